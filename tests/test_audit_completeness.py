"""Every change appends exactly one audit event per changed entity; a rejected request none.

The table below has one entry per mutating route, and ``test_every_mutating_route_is_in_the_
table`` walks ``app.routes``: a route added later fails the suite until it is audited here.
Each entry prepares what its request needs, then the request runs once and the events it
appended are compared with the entry's expectation.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from ainotes.core import audit
from ainotes.core.db import Database
from tests.factories import Actor, Factory
from tests.test_openapi import api_operations

pytestmark = pytest.mark.anyio

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
PROVENANCE = {"generator": "audit-test", "model": "none", "parameters": {}}
# In the expectation, the target id that the response body's "id" names (a created resource).
CREATED = "<created>"


@dataclass
class World:
    client: httpx.AsyncClient
    factory: Factory
    owner: Actor
    workspace: dict[str, Any]

    @property
    def ws(self) -> str:
        return f"/v1/workspaces/{self.workspace['id']}"

    async def ok(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        response = await self.client.request(method, url, headers=self.owner.headers, **kwargs)
        assert response.status_code < 300, response.text
        body: dict[str, Any] = response.json() if response.content else {}
        return body

    async def note(self, **fields: Any) -> dict[str, Any]:
        return await self.factory.note(self.workspace, self.owner, **fields)

    async def trashed_note(self) -> dict[str, Any]:
        note = await self.note()
        await self.ok("DELETE", f"{self.ws}/notes/{note['id']}")
        return note


@dataclass
class Call:
    """The one request under test, and the (action, target type, target id) it must record."""

    method: str
    url: str
    expected: list[tuple[str, str, str]]
    # The chain the events go to: None for the workspace under test, CREATED for a new one.
    chain: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)


Case = Callable[[World], Awaitable[Call]]


async def create_token(w: World) -> Call:
    return Call(
        "POST",
        "/v1/tokens",
        [("token.created", "token", CREATED)],
        chain="system",
        kwargs={"json": {"name": "ci"}},
    )


async def revoke_token(w: World) -> Call:
    token = await w.ok("POST", "/v1/tokens", json={"name": "old"})
    return Call(
        "DELETE",
        f"/v1/tokens/{token['id']}",
        [("token.revoked", "token", token["id"])],
        chain="system",
    )


async def create_workspace(w: World) -> Call:
    return Call(
        "POST",
        "/v1/workspaces",
        [("workspace.created", "workspace", CREATED)],
        chain=CREATED,
        kwargs={"json": {"name": "Fresh"}},
    )


async def update_workspace(w: World) -> Call:
    return Call(
        "PATCH",
        w.ws,
        [("workspace.updated", "workspace", w.workspace["id"])],
        kwargs={"json": {"name": "Renamed"}},
    )


async def delete_workspace(w: World) -> Call:
    return Call("DELETE", w.ws, [("workspace.deleted", "workspace", w.workspace["id"])])


async def add_member(w: World) -> Call:
    user = await w.factory.user("joiner")
    return Call(
        "POST",
        f"{w.ws}/members",
        [("member.added", "member", user.user_id)],
        kwargs={"json": {"user_id": user.user_id, "role": "viewer"}},
    )


async def update_member(w: World) -> Call:
    member = await w.factory.member(w.workspace, w.owner, "viewer")
    return Call(
        "PATCH",
        f"{w.ws}/members/{member.user_id}",
        [("member.role_changed", "member", member.user_id)],
        kwargs={"json": {"role": "editor"}},
    )


async def remove_member(w: World) -> Call:
    member = await w.factory.member(w.workspace, w.owner, "viewer")
    return Call(
        "DELETE",
        f"{w.ws}/members/{member.user_id}",
        [("member.removed", "member", member.user_id)],
    )


async def create_note(w: World) -> Call:
    return Call(
        "POST",
        f"{w.ws}/notes",
        [("note.created", "note", CREATED)],
        kwargs={"json": {"title": "New", "body": "See [[Elsewhere]]."}},
    )


async def update_note(w: World) -> Call:
    note = await w.note()
    return Call(
        "PATCH",
        f"{w.ws}/notes/{note['id']}",
        [("note.updated", "note", note["id"])],
        kwargs={"json": {"body": "Now links [[Another]]."}, "headers": {"If-Match": '"1"'}},
    )


async def trash_note(w: World) -> Call:
    note = await w.note()
    return Call("DELETE", f"{w.ws}/notes/{note['id']}", [("note.trashed", "note", note["id"])])


async def restore_note(w: World) -> Call:
    note = await w.trashed_note()
    return Call(
        "POST", f"{w.ws}/notes/{note['id']}/restore", [("note.restored", "note", note["id"])]
    )


async def purge_note(w: World) -> Call:
    note = await w.trashed_note()
    return Call("POST", f"{w.ws}/notes/{note['id']}/purge", [("note.purged", "note", note["id"])])


async def restore_revision(w: World) -> Call:
    note = await w.note(title="First")
    await w.ok("PATCH", f"{w.ws}/notes/{note['id']}", json={"title": "Second"})
    return Call(
        "POST",
        f"{w.ws}/notes/{note['id']}/revisions/1/restore",
        [("note.revision_restored", "note", note["id"])],
    )


async def create_relationship(w: World) -> Call:
    source, target = await w.note(), await w.note()
    return Call(
        "POST",
        f"{w.ws}/relationships",
        [("relationship.created", "relationship", CREATED)],
        kwargs={
            "json": {
                "source_note_id": source["id"],
                "target_note_id": target["id"],
                "type": "supports",
            }
        },
    )


async def delete_relationship(w: World) -> Call:
    source, target = await w.note(), await w.note()
    relationship = await w.ok(
        "POST",
        f"{w.ws}/relationships",
        json={"source_note_id": source["id"], "target_note_id": target["id"], "type": "related"},
    )
    return Call(
        "DELETE",
        f"{w.ws}/relationships/{relationship['id']}",
        [("relationship.deleted", "relationship", relationship["id"])],
    )


async def update_task(w: World) -> Call:
    # Two entities change: the note gets a new version (its body holds the task), and the task.
    note = await w.note(body="- [ ] water the plants")
    [task] = (await w.ok("GET", f"{w.ws}/tasks", params={"note_id": note["id"]}))["items"]
    return Call(
        "PATCH",
        f"{w.ws}/tasks/{task['id']}",
        [("note.updated", "note", note["id"]), ("task.updated", "task", task["id"])],
        kwargs={"json": {"status": "done"}},
    )


def artifact_body(note: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "summary",
        "title": "Gist",
        "content": {"text": "Short."},
        "sources": [{"note_id": note["id"]}],
        "provenance": PROVENANCE,
    }


async def create_artifact(w: World) -> Call:
    note = await w.note()
    return Call(
        "POST",
        f"{w.ws}/artifacts",
        [("artifact.created", "artifact", CREATED)],
        kwargs={"json": artifact_body(note)},
    )


async def update_artifact(w: World) -> Call:
    artifact = await w.ok("POST", f"{w.ws}/artifacts", json=artifact_body(await w.note()))
    return Call(
        "PATCH",
        f"{w.ws}/artifacts/{artifact['id']}",
        [("artifact.updated", "artifact", artifact["id"])],
        kwargs={"json": {"title": "Better gist"}},
    )


async def delete_artifact(w: World) -> Call:
    artifact = await w.ok("POST", f"{w.ws}/artifacts", json=artifact_body(await w.note()))
    return Call(
        "DELETE",
        f"{w.ws}/artifacts/{artifact['id']}",
        [("artifact.deleted", "artifact", artifact["id"])],
    )


async def create_attachment(w: World) -> Call:
    return Call(
        "POST",
        f"{w.ws}/attachments",
        [("attachment.created", "attachment", CREATED)],
        kwargs={"content": b"audited bytes", "params": {"filename": "a.txt"}},
    )


async def delete_attachment(w: World) -> Call:
    attachment = await w.ok(
        "POST", f"{w.ws}/attachments", content=b"short-lived", params={"filename": "b.txt"}
    )
    return Call(
        "DELETE",
        f"{w.ws}/attachments/{attachment['id']}",
        [("attachment.deleted", "attachment", attachment["id"])],
    )


async def create_agent(w: World) -> Call:
    return Call(
        "POST",
        f"{w.ws}/agents",
        [("agent.created", "agent", CREATED)],
        kwargs={"json": {"name": "Summarizer"}},
    )


async def update_agent(w: World) -> Call:
    agent = await w.ok("POST", f"{w.ws}/agents", json={"name": "Summarizer"})
    return Call(
        "PATCH",
        f"{w.ws}/agents/{agent['id']}",
        [("agent.disabled", "agent", agent["id"])],
        kwargs={"json": {"disabled": True}},
    )


async def create_agent_token(w: World) -> Call:
    agent = await w.ok("POST", f"{w.ws}/agents", json={"name": "Summarizer"})
    return Call(
        "POST",
        f"{w.ws}/agents/{agent['id']}/tokens",
        [("agent_token.created", "agent_token", CREATED)],
        kwargs={"json": {"name": "ci", "scopes": ["notes:read"]}},
    )


async def revoke_agent_token(w: World) -> Call:
    agent = await w.ok("POST", f"{w.ws}/agents", json={"name": "Summarizer"})
    tokens = f"{w.ws}/agents/{agent['id']}/tokens"
    token = await w.ok("POST", tokens, json={"name": "ci", "scopes": ["notes:read"]})
    return Call(
        "DELETE",
        f"{tokens}/{token['id']}",
        [("agent_token.revoked", "agent_token", token["id"])],
    )


def update_note_op(note: dict[str, Any], body: str = "Proposed body.") -> dict[str, Any]:
    return {
        "op": "update_note",
        "note_id": note["id"],
        "base_version": note["version"],
        "body": body,
    }


async def proposal(w: World, note: dict[str, Any], body: str = "Proposed body.") -> str:
    """A pending proposal of the owner's: one update_note of ``note``."""
    created = await w.ok(
        "POST",
        f"{w.ws}/proposals",
        json={"rationale": "Tidy up.", "operations": [update_note_op(note, body)]},
    )
    return str(created["id"])


async def submit_proposal(w: World) -> Call:
    note = await w.note()
    return Call(
        "POST",
        f"{w.ws}/proposals",
        [("proposal.pending", "proposal", CREATED)],
        kwargs={"json": {"rationale": "Tidy up.", "operations": [update_note_op(note)]}},
    )


async def approve_proposal(w: World) -> Call:
    # In the order they are recorded: the decision, the change it applies, then the outcome.
    note = await w.note()
    proposal_id = await proposal(w, note)
    return Call(
        "POST",
        f"{w.ws}/proposals/{proposal_id}/approve",
        [
            ("proposal.approved", "proposal", proposal_id),
            ("note.updated", "note", note["id"]),
            ("proposal.applied", "proposal", proposal_id),
        ],
    )


async def reject_proposal(w: World) -> Call:
    proposal_id = await proposal(w, await w.note())
    return Call(
        "POST",
        f"{w.ws}/proposals/{proposal_id}/reject",
        [("proposal.rejected", "proposal", proposal_id)],
        kwargs={"json": {"reason": "Not now."}},
    )


async def withdraw_proposal(w: World) -> Call:
    proposal_id = await proposal(w, await w.note())
    return Call(
        "POST",
        f"{w.ws}/proposals/{proposal_id}/withdraw",
        [("proposal.withdrawn", "proposal", proposal_id)],
    )


async def rebase_proposal(w: World) -> Call:
    # The proposal edits the first line; the note's later edit the last: a clean merge.
    note = await w.note(body="one\ntwo\nthree\n")
    proposal_id = await proposal(w, note, body="ONE\ntwo\nthree\n")
    await w.ok("PATCH", f"{w.ws}/notes/{note['id']}", json={"body": "one\ntwo\nTHREE\n"})
    stale = await w.client.post(f"{w.ws}/proposals/{proposal_id}/approve", headers=w.owner.headers)
    assert stale.status_code == 409, stale.text
    return Call(
        "POST",
        f"{w.ws}/proposals/{proposal_id}/rebase",
        [
            ("proposal.superseded", "proposal", proposal_id),
            ("proposal.pending", "proposal", CREATED),
        ],
    )


async def revert_proposal(w: World) -> Call:
    note = await w.note()
    proposal_id = await proposal(w, note)
    await w.ok("POST", f"{w.ws}/proposals/{proposal_id}/approve")
    return Call(
        "POST",
        f"{w.ws}/proposals/{proposal_id}/revert",
        [
            ("note.revision_restored", "note", note["id"]),
            ("proposal.reverted", "proposal", proposal_id),
        ],
    )


async def set_proposal_policy(w: World) -> Call:
    return Call(
        "PUT",
        f"{w.ws}/proposal-policy",
        [("proposal_policy.updated", "proposal_policy", w.workspace["id"])],
        kwargs={"json": {"auto_apply": ["add_tags"], "proposal_ttl_hours": 48}},
    )


WS = "/v1/workspaces/{workspace_id}"
CASES: dict[str, Case] = {
    "POST /v1/tokens": create_token,
    "DELETE /v1/tokens/{token_id}": revoke_token,
    "POST /v1/workspaces": create_workspace,
    f"PATCH {WS}": update_workspace,
    f"DELETE {WS}": delete_workspace,
    f"POST {WS}/members": add_member,
    f"PATCH {WS}/members/{{user_id}}": update_member,
    f"DELETE {WS}/members/{{user_id}}": remove_member,
    f"POST {WS}/notes": create_note,
    f"PATCH {WS}/notes/{{note_id}}": update_note,
    f"DELETE {WS}/notes/{{note_id}}": trash_note,
    f"POST {WS}/notes/{{note_id}}/restore": restore_note,
    f"POST {WS}/notes/{{note_id}}/purge": purge_note,
    f"POST {WS}/notes/{{note_id}}/revisions/{{version}}/restore": restore_revision,
    f"POST {WS}/relationships": create_relationship,
    f"DELETE {WS}/relationships/{{relationship_id}}": delete_relationship,
    f"PATCH {WS}/tasks/{{task_id}}": update_task,
    f"POST {WS}/artifacts": create_artifact,
    f"PATCH {WS}/artifacts/{{artifact_id}}": update_artifact,
    f"DELETE {WS}/artifacts/{{artifact_id}}": delete_artifact,
    f"POST {WS}/attachments": create_attachment,
    f"DELETE {WS}/attachments/{{attachment_id}}": delete_attachment,
    f"POST {WS}/agents": create_agent,
    f"PATCH {WS}/agents/{{agent_id}}": update_agent,
    f"POST {WS}/agents/{{agent_id}}/tokens": create_agent_token,
    f"DELETE {WS}/agents/{{agent_id}}/tokens/{{token_id}}": revoke_agent_token,
    f"POST {WS}/proposals": submit_proposal,
    f"POST {WS}/proposals/{{proposal_id}}/approve": approve_proposal,
    f"POST {WS}/proposals/{{proposal_id}}/reject": reject_proposal,
    f"POST {WS}/proposals/{{proposal_id}}/withdraw": withdraw_proposal,
    f"POST {WS}/proposals/{{proposal_id}}/rebase": rebase_proposal,
    f"POST {WS}/proposals/{{proposal_id}}/revert": revert_proposal,
    f"PUT {WS}/proposal-policy": set_proposal_policy,
}


async def last_seq(database: Database, chain: str) -> int:
    async with database.read_session() as session:
        statement = select(func.max(audit.AuditEvent.seq)).where(audit.AuditEvent.chain_id == chain)
        return (await session.execute(statement)).scalar_one_or_none() or 0


async def events_after(database: Database, chain: str, seq: int) -> list[audit.AuditEvent]:
    async with database.read_session() as session:
        statement = (
            select(audit.AuditEvent)
            .where(audit.AuditEvent.chain_id == chain, audit.AuditEvent.seq > seq)
            .order_by(audit.AuditEvent.seq)
        )
        return list((await session.execute(statement)).scalars().all())


async def verify(database: Database, chain: str) -> audit.ChainVerification:
    async with database.read_session() as session:
        return await audit.verify(session, chain)


@pytest.fixture
async def world(client: httpx.AsyncClient, factory: Factory) -> World:
    owner = await factory.user("owner")
    return World(client, factory, owner, await factory.workspace(owner))


async def test_every_mutating_route_is_in_the_table(app: FastAPI) -> None:
    routes = {
        f"{op.method} {op.path}"
        for op in api_operations(app)
        if op.path.startswith("/v1") and op.method in MUTATING
    }
    assert sorted(routes - CASES.keys()) == [], "audit these routes and add them to CASES"
    assert sorted(CASES.keys() - routes) == []


@pytest.mark.parametrize("route", sorted(CASES))
async def test_each_change_records_exactly_its_events(
    route: str, world: World, database: Database
) -> None:
    call = await CASES[route](world)
    chain = world.workspace["id"] if call.chain is None else call.chain
    before = 0 if chain == CREATED else await last_seq(database, chain)
    headers = {**world.owner.headers, **call.kwargs.pop("headers", {})}

    response = await world.client.request(call.method, call.url, headers=headers, **call.kwargs)

    assert response.status_code < 300, response.text
    created = response.json()["id"] if CREATED in (chain, *(e[2] for e in call.expected)) else None
    chain = created if chain == CREATED else chain
    events = await events_after(database, chain, before)
    expected = [(a, t, created if i == CREATED else i) for a, t, i in call.expected]
    assert [(e.action, e.target_type, e.target_id) for e in events] == expected
    for event in events:
        assert event.request_id == response.headers["x-request-id"]
        assert (event.actor_kind, event.actor_id) == ("user", world.owner.user_id)
    assert (await verify(database, chain)).ok


class TestNothingIsRecordedWithoutAChange:
    async def test_rejected_and_no_op_requests_record_nothing(
        self, world: World, database: Database
    ) -> None:
        note = await world.note(title="Same")
        url = f"{world.ws}/notes/{note['id']}"
        before = await last_seq(database, world.workspace["id"])
        headers = world.owner.headers
        client = world.client

        invalid = await client.post(f"{world.ws}/notes", json={"title": ""}, headers=headers)
        stale = await client.patch(
            url, json={"title": "Other"}, headers={**headers, "If-Match": '"9"'}
        )
        unchanged = await client.patch(url, json={"title": "Same"}, headers=headers)
        same_role = await client.patch(
            f"{world.ws}/members/{world.owner.user_id}", json={"role": "owner"}, headers=headers
        )
        last_owner = await client.delete(
            f"{world.ws}/members/{world.owner.user_id}", headers=headers
        )

        statuses = [r.status_code for r in (invalid, stale, unchanged, same_role, last_owner)]
        assert statuses == [422, 412, 200, 200, 409]
        assert unchanged.json()["version"] == 1
        assert await events_after(database, world.workspace["id"], before) == []

    async def test_a_rejected_token_request_records_nothing_in_the_system_chain(
        self, world: World, database: Database
    ) -> None:
        before = await last_seq(database, "system")
        response = await world.client.post(
            "/v1/tokens", json={"name": ""}, headers=world.owner.headers
        )
        assert response.status_code == 422
        assert await events_after(database, "system", before) == []
