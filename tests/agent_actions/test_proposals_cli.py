"""``ainotes proposals expire``: records the expiry of every overdue proposal, once."""

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from ainotes.agent_actions.models import Proposal, ProposalState
from ainotes.core import audit
from ainotes.core.db import Database
from ainotes.core.models import utcnow
from tests.agent_actions.test_audit_cli import ainotes, run  # noqa: F401
from tests.conftest import settings_for
from tests.test_cli import Cli, serving, token_in

pytestmark = pytest.mark.anyio


def database_of(cli: Cli) -> Database:
    return Database(
        settings_for(cli.env["AINOTES_DATABASE_URL"], Path(cli.env["AINOTES_DATA_DIR"]))
    )


async def submit_two(cli: Cli) -> tuple[str, list[str]]:
    token = token_in(await cli.in_thread("users", "create", "reviewer"))
    settings = settings_for(cli.env["AINOTES_DATABASE_URL"], Path(cli.env["AINOTES_DATA_DIR"]))
    headers = {"Authorization": f"Bearer {token}"}
    async with serving(settings) as http:
        workspace = (await http.post("/v1/workspaces", json={"name": "W"}, headers=headers)).json()
        url = f"/v1/workspaces/{workspace['id']}/proposals"
        ids = []
        for title in ("First", "Second"):
            body = {"rationale": "r", "operations": [{"op": "create_note", "title": title}]}
            response = await http.post(url, json=body, headers=headers)
            assert response.status_code == 201, response.text
            ids.append(response.json()["id"])
    return workspace["id"], ids


async def test_expires_overdue_proposals_once(ainotes: Cli) -> None:  # noqa: F811
    workspace_id, (overdue, waiting) = await submit_two(ainotes)
    database = database_of(ainotes)
    try:
        async with database.write_session() as session:
            await session.execute(
                update(Proposal)
                .where(Proposal.workspace_id == workspace_id, Proposal.id == overdue)
                .values(expires_at=utcnow() - timedelta(minutes=1))
            )

        first = await run(ainotes, "proposals", "expire")
        second = await run(ainotes, "proposals", "expire")

        assert first.exit_code == 0, first.output
        assert "expired 1 proposal(s) in 1 workspace(s)" in first.output
        assert "expired 0 proposal(s) in 0 workspace(s)" in second.output
        async with database.read_session() as session:
            rows = (await session.execute(select(Proposal.id, Proposal.state))).all()
            states = dict(rows)
            events = (
                await session.execute(
                    select(func.count()).where(
                        audit.AuditEvent.chain_id == workspace_id,
                        audit.AuditEvent.action == "proposal.expired",
                    )
                )
            ).scalar_one()
        assert states == {overdue: ProposalState.EXPIRED, waiting: ProposalState.PENDING}
        assert events == 1
    finally:
        await database.dispose()
