"""HEAD of an attachment's content: GET's status and headers in every case, no body, and the
stored file never opened."""

import os
from typing import Any

import httpx
import pytest

from ainotes.attachments.storage import LocalBlobStore
from ainotes.core.config import Settings
from tests.factories import Factory

pytestmark = pytest.mark.anyio

VOLATILE = {"date", "x-request-id"}


def _headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k not in VOLATILE}


class TestHeadParity:
    async def _setup(self, factory: Factory, content: bytes) -> tuple[Any, dict[str, Any], str]:
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        url = f"/v1/workspaces/{workspace['id']}/attachments"
        response = await factory.client.post(
            url, content=content, params={"filename": "résumé ünï.pdf"}, headers=owner.headers
        )
        assert response.status_code == 201, response.text
        return owner, response.json(), url

    @pytest.mark.parametrize(
        "extra",
        [
            {},
            {"Range": "bytes=0-0"},
            {"Range": "bytes=-5"},
            {"Range": "bytes=10-"},
            {"Range": "bytes=999999-"},  # 416
            {"Range": "bytes=abc"},
            {"Range": "bytes=0-1", "If-Range": '"nope"'},
            {"If-None-Match": "*"},
            {"If-None-Match": '"other"'},
        ],
    )
    async def test_head_answers_as_get(self, factory: Factory, extra: dict[str, str]) -> None:
        owner, attachment, url = await self._setup(factory, os.urandom(1000))
        target = f"{url}/{attachment['id']}/content"
        got = await factory.client.get(target, headers={**owner.headers, **extra})
        head = await factory.client.head(target, headers={**owner.headers, **extra})
        assert head.status_code == got.status_code
        assert head.content == b""
        assert _headers(head) == _headers(got)

    async def test_zero_byte_attachment(self, factory: Factory) -> None:
        owner, attachment, url = await self._setup(factory, b"")
        target = f"{url}/{attachment['id']}/content"
        got = await factory.client.get(target, headers=owner.headers)
        head = await factory.client.head(target, headers=owner.headers)
        assert (head.status_code, _headers(head)) == (got.status_code, _headers(got))

    async def test_other_workspace_and_non_member(self, factory: Factory) -> None:
        _, attachment, _ = await self._setup(factory, os.urandom(100))
        stranger = await factory.user()
        elsewhere = await factory.workspace(stranger)
        for actor, ws in ((stranger, elsewhere["id"]), (stranger, attachment["workspace_id"])):
            target = f"/v1/workspaces/{ws}/attachments/{attachment['id']}/content"
            got = await factory.client.get(target, headers=actor.headers)
            head = await factory.client.head(target, headers=actor.headers)
            assert got.status_code == 404
            assert (head.status_code, _headers(head)) == (got.status_code, _headers(got))

    @pytest.mark.parametrize("extra", [{}, {"Range": "bytes=1-2"}])
    async def test_missing_blob(
        self, factory: Factory, settings: Settings, extra: dict[str, str]
    ) -> None:
        owner, attachment, url = await self._setup(factory, os.urandom(777))
        sha = attachment["sha256"]
        (settings.data_dir / "blobs" / sha[:2] / sha[2:4] / sha).unlink()
        target = f"{url}/{attachment['id']}/content"
        got = await factory.client.get(target, headers={**owner.headers, **extra})
        head = await factory.client.head(target, headers={**owner.headers, **extra})
        assert got.status_code >= 500
        assert (head.status_code, _headers(head)) == (got.status_code, _headers(got))

    async def test_head_through_the_route_never_opens_the_blob(
        self, factory: Factory, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        owner, attachment, url = await self._setup(factory, os.urandom(100))
        opened: list[str] = []
        real = LocalBlobStore.open_range

        async def spy(self: LocalBlobStore, key: str, start: int, end: int) -> Any:
            opened.append(key)
            return await real(self, key, start, end)

        monkeypatch.setattr(LocalBlobStore, "open_range", spy)
        target = f"{url}/{attachment['id']}/content"
        head = await factory.client.head(target, headers=owner.headers)
        assert head.status_code == 200
        assert opened == []
        got = await factory.client.get(target, headers=owner.headers)
        assert got.status_code == 200
        assert opened == [attachment["sha256"]]
