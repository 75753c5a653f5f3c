"""``ainotes audit verify``: every chain (system included) or one, exit 1 on a broken link."""

from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import anyio
import pytest
from sqlalchemy import update
from typer.testing import Result

from ainotes.core import audit, migrations
from ainotes.core.db import Database
from tests.conftest import _drop_postgres_database, make_database_url, settings_for
from tests.test_cli import Cli, serving, token_in

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["sqlite", "postgres"])
async def ainotes(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Cli]:
    """The CLI on an empty, migrated database of its own: other tests tamper with chains."""
    monkeypatch.chdir(tmp_path)
    url = await make_database_url(request.param, tmp_path, "audit_cli")
    settings = settings_for(url, tmp_path / "data")
    await anyio.to_thread.run_sync(migrations.upgrade, settings.effective_database_url)
    yield Cli(tmp_path / "data", url)
    if request.param == "postgres":
        await _drop_postgres_database(url)


async def run(ainotes: Cli, *args: str) -> Result:
    return await anyio.to_thread.run_sync(partial(ainotes, *args))


async def seed(ainotes: Cli) -> str:
    """A user made by the CLI (system chain) and a workspace with a note; its id."""
    token = token_in(await ainotes.in_thread("users", "create", "auditor"))
    settings = settings_for(
        ainotes.env["AINOTES_DATABASE_URL"], Path(ainotes.env["AINOTES_DATA_DIR"])
    )
    headers = {"Authorization": f"Bearer {token}"}
    async with serving(settings) as http:
        workspace = (await http.post("/v1/workspaces", json={"name": "W"}, headers=headers)).json()
        note = await http.post(
            f"/v1/workspaces/{workspace['id']}/notes", json={"title": "N"}, headers=headers
        )
        assert note.status_code == 201, note.text
    workspace_id: str = workspace["id"]
    return workspace_id


async def tamper(ainotes: Cli, chain: str, seq: int) -> None:
    settings = settings_for(
        ainotes.env["AINOTES_DATABASE_URL"], Path(ainotes.env["AINOTES_DATA_DIR"])
    )
    database = Database(settings)
    try:
        async with database.write_session() as session:
            await session.execute(
                update(audit.AuditEvent)
                .where(audit.AuditEvent.chain_id == chain, audit.AuditEvent.seq == seq)
                .values(target_id="forged")
            )
    finally:
        await database.dispose()


class TestAuditVerify:
    async def test_every_chain_verifies_including_the_system_chain(self, ainotes: Cli) -> None:
        workspace_id = await seed(ainotes)
        output = await ainotes.in_thread("audit", "verify")
        # users create: user.created and token.created; the workspace: created, note.created.
        assert "system: ok, 2 events" in output
        assert f"{workspace_id}: ok, 2 events" in output

    async def test_a_broken_chain_exits_1_naming_its_first_broken_link(self, ainotes: Cli) -> None:
        workspace_id = await seed(ainotes)
        await tamper(ainotes, workspace_id, 2)

        result = await run(ainotes, "audit", "verify")
        assert result.exit_code == 1
        assert f"{workspace_id}: broken at seq 2" in result.output
        assert "system: ok" in result.output

        one = await run(ainotes, "audit", "verify", "--workspace", workspace_id)
        assert one.exit_code == 1
        assert "broken at seq 2" in one.output
        assert "system" not in one.output

    async def test_one_workspace_and_an_unknown_one(self, ainotes: Cli) -> None:
        workspace_id = await seed(ainotes)
        output = await ainotes.in_thread("audit", "verify", "--workspace", workspace_id)
        assert output.strip() == f"{workspace_id}: ok, 2 events"

        unknown = await run(ainotes, "audit", "verify", "--workspace", "01JAAAAAAAAAAAAAAAAAAAAAAA")
        assert unknown.exit_code == 1
        assert "no audit events" in unknown.output
