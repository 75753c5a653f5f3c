import pytest

from tests.factories import Factory

pytestmark = pytest.mark.anyio


async def test_create_and_read_note(factory: Factory) -> None:
    owner = await factory.user()
    workspace = await factory.workspace(owner)
    note = await factory.note(workspace, owner, tags=["A"])
    response = await factory.client.get(
        f"/v1/workspaces/{workspace['id']}/notes/{note['id']}", headers=owner.headers
    )
    assert response.status_code == 200
    assert response.headers["etag"] == '"1"'
    assert response.json()["tags"] == ["a"]
