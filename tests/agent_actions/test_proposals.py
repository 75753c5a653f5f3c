"""Proposals: agents change notes only through them. Submitting (and what is refused), the diff
view, approving (every operation at once, attributed to the agent on behalf of the approver),
staleness, atomic failure, reverting, rebasing, who may decide, the workspace's policy,
listing, and tenancy — all through HTTP, on SQLite and PostgreSQL.

The state machine as a table (every state by every action) is in ``test_proposal_states.py``;
the helpers here are shared with it.
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from ainotes.agent_actions.models import Proposal
from ainotes.core.db import Database
from ainotes.core.ids import new_id
from ainotes.core.models import utcnow
from tests.factories import Actor, AgentActor, Factory
from tests.problems import assert_problem

pytestmark = pytest.mark.anyio

# Three lines, so that an agent and a person can each edit one without conflicting.
BODY = "line one\nline two\nline three\n"

Who = Actor | AgentActor


# --- helpers (shared with test_proposal_states.py) ----------------------------------------


def headers_of(who: Who, extra: dict[str, str] | None = None) -> dict[str, str]:
    """A write's headers: agents' writes carry a fresh Idempotency-Key."""
    base = who.writing() if isinstance(who, AgentActor) else dict(who.headers)
    return {**base, **(extra or {})}


def update_note(note: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"op": "update_note", "note_id": note["id"], "base_version": note["version"], **fields}


def trash_note(note: dict[str, Any]) -> dict[str, Any]:
    return {"op": "trash_note", "note_id": note["id"], "base_version": note["version"]}


def create_note(title: str, body: str = "", tags: list[str] | None = None) -> dict[str, Any]:
    return {"op": "create_note", "title": title, "body": body, "tags": tags or []}


def add_tags(note: dict[str, Any], *tags: str, based: bool = True) -> dict[str, Any]:
    op = {"op": "add_tags", "note_id": note["id"], "tags": list(tags)}
    return {**op, "base_version": note["version"]} if based else op


def remove_tags(note: dict[str, Any], *tags: str) -> dict[str, Any]:
    return {
        "op": "remove_tags",
        "note_id": note["id"],
        "tags": list(tags),
        "base_version": note["version"],
    }


def link_notes(
    source: dict[str, Any], target: dict[str, Any], kind: str = "related", **fields: Any
) -> dict[str, Any]:
    return {
        "op": "link_notes",
        "source_note_id": source["id"],
        "target_note_id": target["id"],
        "type": kind,
        **fields,
    }


def create_task(note: dict[str, Any], text: str, based: bool = True) -> dict[str, Any]:
    op = {"op": "create_task", "note_id": note["id"], "text": text}
    return {**op, "base_version": note["version"]} if based else op


def summary_artifact(title: str, note: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "op": "create_artifact",
        "artifact": {
            "kind": "summary",
            "title": title,
            "content": {"text": f"What {title} says."},
            "provenance": {"generator": "tests"},
            "sources": [{"note_id": note["id"]}] if note else [],
        },
    }


@dataclass
class Desk:
    """A workspace with an owner, an editor, and an agent (token issued by the owner) holding
    every scope; proposals are submitted by the agent and decided by the owner by default."""

    client: httpx.AsyncClient
    factory: Factory
    database: Database
    owner: Actor
    editor: Actor
    agent: AgentActor
    workspace: dict[str, Any]

    @property
    def ws(self) -> str:
        return f"/v1/workspaces/{self.workspace['id']}"

    @property
    def proposals(self) -> str:
        return f"{self.ws}/proposals"

    def url(self, proposal_id: str, action: str | None = None) -> str:
        return f"{self.proposals}/{proposal_id}" + (f"/{action}" if action else "")

    # notes, as people write them

    async def note(self, **fields: Any) -> dict[str, Any]:
        return await self.factory.note(self.workspace, self.owner, **{"body": BODY, **fields})

    async def read_note(self, note_id: str) -> dict[str, Any]:
        response = await self.client.get(f"{self.ws}/notes/{note_id}", headers=self.owner.headers)
        assert response.status_code == 200, response.text
        note: dict[str, Any] = response.json()
        return note

    async def edit(self, note: dict[str, Any], **changes: Any) -> dict[str, Any]:
        """A person's edit of the note's current version."""
        current = await self.read_note(note["id"])
        response = await self.client.patch(
            f"{self.ws}/notes/{note['id']}",
            json=changes,
            headers={**self.owner.headers, "If-Match": f'"{current["version"]}"'},
        )
        assert response.status_code == 200, response.text
        edited: dict[str, Any] = response.json()
        return edited

    async def trash(self, note: dict[str, Any]) -> None:
        current = await self.read_note(note["id"])
        response = await self.client.delete(
            f"{self.ws}/notes/{note['id']}",
            headers={**self.owner.headers, "If-Match": f'"{current["version"]}"'},
        )
        assert response.status_code == 200, response.text

    async def revisions(self, note_id: str) -> list[dict[str, Any]]:
        response = await self.client.get(
            f"{self.ws}/notes/{note_id}/revisions",
            params={"limit": "100"},
            headers=self.owner.headers,
        )
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    async def relate(self, source: dict[str, Any], target: dict[str, Any], kind: str) -> str:
        response = await self.client.post(
            f"{self.ws}/relationships",
            json={"source_note_id": source["id"], "target_note_id": target["id"], "type": kind},
            headers=self.owner.headers,
        )
        assert response.status_code == 201, response.text
        relationship_id: str = response.json()["id"]
        return relationship_id

    async def relationships(self, note_id: str) -> list[dict[str, Any]]:
        response = await self.client.get(
            f"{self.ws}/relationships",
            params={"note_id": note_id, "source": "manual", "limit": "100"},
            headers=self.owner.headers,
        )
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    # proposals

    async def submit(
        self,
        *operations: dict[str, Any],
        who: Who | None = None,
        rationale: str = "Tidy this up.",
        headers: dict[str, str] | None = None,
        **fields: Any,
    ) -> httpx.Response:
        return await self.client.post(
            self.proposals,
            json={"rationale": rationale, "operations": list(operations), **fields},
            headers=headers_of(who or self.agent, headers),
        )

    async def propose(self, *operations: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        response = await self.submit(*operations, **kwargs)
        assert response.status_code == 201, response.text
        proposal: dict[str, Any] = response.json()
        return proposal

    async def get(self, proposal_id: str, who: Who | None = None) -> dict[str, Any]:
        response = await self.client.get(self.url(proposal_id), headers=(who or self.owner).headers)
        assert response.status_code == 200, response.text
        proposal: dict[str, Any] = response.json()
        return proposal

    async def act(
        self,
        proposal_id: str,
        action: str,
        who: Who,
        json: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        return await self.client.post(
            self.url(proposal_id, action), json=json, headers=headers_of(who, headers)
        )

    async def approve(self, proposal_id: str, who: Who | None = None, **kw: Any) -> httpx.Response:
        return await self.act(proposal_id, "approve", who or self.owner, **kw)

    async def reject(
        self, proposal_id: str, reason: str = "Not now.", who: Who | None = None, **kw: Any
    ) -> httpx.Response:
        return await self.act(proposal_id, "reject", who or self.owner, {"reason": reason}, **kw)

    async def withdraw(self, proposal_id: str, who: Who | None = None, **kw: Any) -> httpx.Response:
        return await self.act(proposal_id, "withdraw", who or self.agent, **kw)

    async def rebase(self, proposal_id: str, who: Who | None = None, **kw: Any) -> httpx.Response:
        return await self.act(proposal_id, "rebase", who or self.agent, **kw)

    async def revert(
        self, proposal_id: str, force: bool | None = None, who: Who | None = None, **kw: Any
    ) -> httpx.Response:
        body = None if force is None else {"force": force}
        return await self.act(proposal_id, "revert", who or self.owner, body, **kw)

    async def approved(self, proposal_id: str, who: Who | None = None) -> dict[str, Any]:
        response = await self.approve(proposal_id, who)
        assert response.status_code == 200, response.text
        proposal: dict[str, Any] = response.json()
        return proposal

    async def listing(self, who: Who | None = None, **params: Any) -> list[dict[str, Any]]:
        """Every proposal the listing gives for these filters, following the cursor."""
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            query = {**params, "limit": "100", **({"cursor": cursor} if cursor else {})}
            response = await self.client.get(
                self.proposals, params=query, headers=(who or self.owner).headers
            )
            assert response.status_code == 200, response.text
            page = response.json()
            found.extend(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                return found

    async def events(self, **params: Any) -> list[dict[str, Any]]:
        """The workspace's audit events for these filters, oldest first, read by the owner."""
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            query = {"order": "asc", "limit": "100", **params}
            if cursor:
                query["cursor"] = cursor
            response = await self.client.get(
                f"{self.ws}/audit", params=query, headers=self.owner.headers
            )
            assert response.status_code == 200, response.text
            page = response.json()
            found.extend(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                return found

    async def proposal_events(self, proposal_id: str) -> list[dict[str, Any]]:
        """The ``proposal.<state>`` events of one proposal, oldest first."""
        return [
            event
            for event in await self.events(proposal_id=proposal_id, target_type="proposal")
            if event["action"].startswith("proposal.")
        ]

    async def expire(self, proposal_id: str) -> None:
        """Move the proposal's expiry into the past, as time passing would."""
        async with self.database.write_session() as session:
            await session.execute(
                update(Proposal)
                .where(Proposal.id == proposal_id)
                .values(expires_at=utcnow() - timedelta(minutes=1))
            )

    async def set_policy(self, **policy: Any) -> httpx.Response:
        return await self.client.put(
            f"{self.ws}/proposal-policy", json=policy, headers=self.owner.headers
        )


async def make_desk(factory: Factory, database: Database) -> Desk:
    owner = await factory.user("owner")
    workspace = await factory.workspace(owner, name="Proposals")
    editor = await factory.member(workspace, owner, "editor", name="editor")
    agent = await factory.agent(workspace, owner, name="Gardener")
    return Desk(factory.client, factory, database, owner, editor, agent, workspace)


def transitions(proposal: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(entry["from_state"], entry["to_state"]) for entry in proposal["history"]]


def change_of(proposal: dict[str, Any], note_id: str | None) -> dict[str, Any]:
    """The diff view's entry for one note (``None``: the first note the proposal creates)."""
    found = [change for change in proposal["changes"] if change["note_id"] == note_id]
    assert found, f"no change for note {note_id} in {proposal['changes']}"
    return found[0]


@pytest.fixture
async def desk(factory: Factory, database: Database) -> Desk:
    return await make_desk(factory, database)


def same_problem(problem: dict[str, Any], *ids: str) -> dict[str, Any]:
    """A problem without what differs between two requests: its request id and the ids."""
    detail = problem["detail"]
    for placeholder, value in enumerate(ids):
        detail = detail.replace(value, f"<id{placeholder}>")
    return {
        key: value
        for key, value in {**problem, "detail": detail}.items()
        if key not in ("request_id",)
    }


async def task_of(desk: Desk, note_id: str, who: Who | None = None) -> dict[str, Any]:
    response = await desk.client.get(
        f"{desk.ws}/notes/{note_id}/tasks", headers=(who or desk.owner).headers
    )
    assert response.status_code == 200, response.text
    tasks: list[dict[str, Any]] = response.json()["items"]
    assert len(tasks) == 1, tasks
    return tasks[0]


# --- submitting -----------------------------------------------------------------------------


class TestSubmitValidation:
    async def test_malformed_operations_are_422_and_record_nothing(self, desk: Desk) -> None:
        note = await desk.note()
        too_many = [add_tags(note, f"t{n}", based=False) for n in range(51)]
        for body in (
            {
                "rationale": "Why",
                "operations": [{"op": "rewrite_everything", "note_id": note["id"]}],
            },
            {"rationale": "Why", "operations": []},
            {"rationale": "Why", "operations": too_many},
            {"rationale": "   ", "operations": [add_tags(note, "x")]},
            {"rationale": "", "operations": [add_tags(note, "x")]},
            {"operations": [add_tags(note, "x")]},
            {"rationale": "Why", "operations": [{"op": "update_note", "note_id": note["id"]}]},
        ):
            response = await desk.client.post(
                desk.proposals, json=body, headers=desk.agent.writing()
            )
            assert_problem(response, 422, "validation-failed")
        # Fifty is the most, and is fine.
        fifty = await desk.submit(*too_many[:50])
        assert fifty.status_code == 201, fifty.text
        assert len(await desk.listing()) == 1

    async def test_malformed_json_is_400(self, desk: Desk) -> None:
        response = await desk.client.post(
            desk.proposals,
            content=b'{"rationale": "Why", "operations": [',
            headers={**desk.agent.writing(), "Content-Type": "application/json"},
        )
        assert_problem(response, 400, "malformed-body")
        assert await desk.listing() == []

    async def test_a_base_version_from_the_future_is_refused_with_a_pointer(
        self, desk: Desk
    ) -> None:
        first, second = await desk.note(), await desk.note()
        ahead = {**update_note(second, title="From the future"), "base_version": 2}
        problem = assert_problem(
            await desk.submit(add_tags(first, "ok"), ahead), 422, "invalid-operation"
        )
        assert problem["pointer"] == "/operations/1"
        assert problem["current_version"] == 1
        assert second["id"] in problem["detail"]
        assert await desk.listing() == []

    async def test_operations_on_one_note_must_share_a_base_version(self, desk: Desk) -> None:
        note = await desk.note()
        edited = await desk.edit(note, title="Second version")
        problem = assert_problem(
            await desk.submit(update_note(edited, body="new"), add_tags(note, "old-base")),
            422,
            "invalid-operation",
        )
        assert problem["pointer"] == "/operations/1/base_version"
        assert await desk.listing() == []
        # The same base version for both is fine.
        await desk.propose(update_note(edited, body="new"), add_tags(edited, "same-base"))

    async def test_ids_of_another_workspace_look_like_ids_that_do_not_exist(
        self, desk: Desk
    ) -> None:
        mine = await desk.note()
        other = await make_desk(desk.factory, desk.database)
        theirs = await other.note(body="- [ ] Their task\n")
        linked = await other.note()
        their_task = await task_of(other, theirs["id"])
        their_link = await other.relate(theirs, linked, "related")
        unknown = new_id()

        cases = [
            (
                "note-not-found",
                update_note(theirs, title="Mine now"),
                theirs["id"],
                update_note({"id": unknown, "version": 1}, title="Mine now"),
            ),
            (
                "note-not-found",
                link_notes(mine, theirs),
                theirs["id"],
                link_notes(mine, {"id": unknown}),
            ),
            (
                "note-not-found",
                create_task(theirs, "Do it", based=False),
                theirs["id"],
                create_task({"id": unknown}, "Do it", based=False),
            ),
            (
                "task-not-found",
                {
                    "op": "update_task",
                    "task_id": their_task["id"],
                    "base_version": 1,
                    "status": "done",
                },
                their_task["id"],
                {"op": "update_task", "task_id": unknown, "base_version": 1, "status": "done"},
            ),
            (
                "relationship-not-found",
                {"op": "unlink_notes", "relationship_id": their_link},
                their_link,
                {"op": "unlink_notes", "relationship_id": unknown},
            ),
        ]
        for slug, foreign_op, foreign_id, unknown_op in cases:
            foreign = assert_problem(await desk.submit(foreign_op), 404, slug)
            missing = assert_problem(await desk.submit(unknown_op), 404, slug)
            assert same_problem(foreign, foreign_id) == same_problem(missing, unknown)
            assert foreign["pointer"] == "/operations/0"
        assert await desk.listing() == []
        # Their things are untouched.
        assert (await other.read_note(theirs["id"]))["version"] == 1

    async def test_who_may_submit(self, desk: Desk) -> None:
        note = await desk.note()
        reader = await desk.factory.agent(
            desk.workspace, desk.owner, scopes=("notes:read", "proposals:read"), name="Reader"
        )
        problem = assert_problem(
            await desk.submit(add_tags(note, "x"), who=reader), 403, "insufficient-scope"
        )
        assert problem["required_scope"] == "proposals:write"
        viewer = await desk.factory.member(desk.workspace, desk.owner, "viewer", name="viewer")
        assert_problem(await desk.submit(add_tags(note, "x"), who=viewer), 403, "insufficient-role")
        stranger = await desk.factory.user("stranger")
        assert_problem(
            await desk.submit(add_tags(note, "x"), who=stranger), 404, "workspace-not-found"
        )
        assert await desk.listing() == []
        # Editors may propose too; the proposal is theirs, not an agent's.
        mine = await desk.propose(add_tags(note, "x"), who=desk.editor)
        assert mine["submitted_by"] == desk.editor.user_id
        assert mine["submitted_by_kind"] == "user"
        assert mine["agent_id"] is None

    async def test_agents_must_send_an_idempotency_key(self, desk: Desk) -> None:
        note = await desk.note()
        response = await desk.client.post(
            desk.proposals,
            json={"rationale": "Why", "operations": [add_tags(note, "x")]},
            headers=desk.agent.headers,
        )
        assert_problem(response, 400, "idempotency-key-missing")
        assert await desk.listing() == []

    async def test_a_replayed_submission_returns_the_first_and_creates_nothing(
        self, desk: Desk
    ) -> None:
        note = await desk.note()
        headers = desk.agent.writing("submit-once")
        body = {"rationale": "Tag it", "operations": [add_tags(note, "x")]}
        first = await desk.client.post(desk.proposals, json=body, headers=headers)
        assert first.status_code == 201, first.text
        again = await desk.client.post(desk.proposals, json=body, headers=headers)
        assert again.status_code == 201, again.text
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()
        assert [p["id"] for p in await desk.listing()] == [first.json()["id"]]
        events = await desk.events(action="proposal.pending")
        assert [event["target_id"] for event in events] == [first.json()["id"]]


class TestSupersede:
    async def test_a_revision_supersedes_the_agents_own_waiting_proposal(self, desk: Desk) -> None:
        note = await desk.note()
        first = await desk.propose(update_note(note, title="First try"))
        second = await desk.propose(
            update_note(note, title="Second try"), supersedes_id=first["id"]
        )
        assert second["supersedes_id"] == first["id"]
        old = await desk.get(first["id"])
        assert old["state"] == "superseded"
        assert old["superseded_by_id"] == second["id"]

    async def test_what_cannot_be_superseded(self, desk: Desk) -> None:
        note = await desk.note()
        theirs = await desk.propose(update_note(note, title="Theirs"), who=desk.editor)
        applied = await desk.propose(add_tags(note, "done", based=False))
        await desk.approved(applied["id"])
        current = await desk.read_note(note["id"])
        assert_problem(
            await desk.submit(add_tags(current, "x"), supersedes_id=theirs["id"]),
            403,
            "not-the-submitter",
        )
        problem = assert_problem(
            await desk.submit(add_tags(current, "x"), supersedes_id=applied["id"]),
            409,
            "illegal-transition",
        )
        assert problem["current_state"] == "applied"
        assert_problem(
            await desk.submit(add_tags(current, "x"), supersedes_id=new_id()),
            404,
            "proposal-not-found",
        )
        # None of those refused submissions left a proposal behind.
        assert {p["id"] for p in await desk.listing()} == {theirs["id"], applied["id"]}
        assert (await desk.get(theirs["id"]))["state"] == "pending"

    async def test_superseding_an_expired_proposal_creates_nothing(self, desk: Desk) -> None:
        """The refusal records the old proposal's expiry, and only that: the revision that
        was refused must not be kept as a proposal."""
        note = await desk.note()
        first = await desk.propose(update_note(note, title="First try"))
        await desk.expire(first["id"])
        response = await desk.submit(
            update_note(note, title="Second try"), supersedes_id=first["id"]
        )
        assert_problem(response, 409, "proposal-expired")
        assert [p["id"] for p in await desk.listing()] == [first["id"]]
        assert transitions(await desk.get(first["id"])) == [
            (None, "pending"),
            ("pending", "expired"),
        ]
        assert [e["action"] for e in await desk.events(action="proposal.pending")] == [
            "proposal.pending"
        ]


# --- the diff view --------------------------------------------------------------------------


class TestDiffView:
    async def test_title_and_body_diffs_from_the_base_version(self, desk: Desk) -> None:
        note = await desk.note(title="Old title")
        proposal = await desk.propose(
            update_note(note, title="New title", body=BODY.replace("line two", "line 2"))
        )
        assert proposal["state"] == "pending"
        assert proposal["is_stale"] is False
        assert proposal["rationale"] == "Tidy this up."
        assert proposal["submitted_by"] == desk.agent.agent_id
        assert proposal["agent_id"] == desk.agent.agent_id
        change = change_of(proposal, note["id"])
        assert change["change"] == "update"
        assert change["operations"] == [0]
        assert (change["base_version"], change["current_version"]) == (1, 1)
        assert change["stale"] is False
        assert (change["title_before"], change["title_after"]) == ("Old title", "New title")
        assert "-Old title\n" in change["title_diff"]
        assert "+New title\n" in change["title_diff"]
        body_diff = change["body_diff"]
        assert body_diff.startswith(f"--- a/{note['id']}/body\n+++ b/{note['id']}/body\n")
        assert "-line two\n" in body_diff
        assert "+line 2\n" in body_diff
        assert " line one\n" in body_diff
        assert "-line one" not in body_diff
        assert change["tags_added"] == change["tags_removed"] == []
        # Reading it again shows the same.
        assert (await desk.get(proposal["id"]))["changes"] == proposal["changes"]
        # Nothing is applied by submitting.
        assert (await desk.read_note(note["id"]))["version"] == 1

    async def test_tags_added_and_removed(self, desk: Desk) -> None:
        note = await desk.note(tags=["alpha", "beta"])
        proposal = await desk.propose(add_tags(note, "gamma"), remove_tags(note, "alpha"))
        change = change_of(proposal, note["id"])
        assert change["operations"] == [0, 1]
        assert change["tags_added"] == ["gamma"]
        assert change["tags_removed"] == ["alpha"]
        assert change["title_diff"] == change["body_diff"] == ""

    async def test_a_created_note_and_a_created_task(self, desk: Desk) -> None:
        note = await desk.note()
        other = await desk.note()
        proposal = await desk.propose(
            create_note("Fresh idea", "First line\nSecond line\n", ["idea"]),
            create_task(note, "Call the plumber"),
            link_notes(note, other, "supports"),
        )
        created = change_of(proposal, None)
        assert created["change"] == "create"
        assert created["title_before"] is None
        assert created["title_after"] == "Fresh idea"
        assert created["base_version"] is None
        assert "+First line\n" in created["body_diff"]
        assert "+Second line\n" in created["body_diff"]
        assert created["tags_added"] == ["idea"]
        task_change = change_of(proposal, note["id"])
        assert "+- [ ] Call the plumber\n" in task_change["body_diff"]
        assert task_change["operations"] == [1]
        assert any("supports" in effect and other["id"] in effect for effect in proposal["effects"])


# --- approving --------------------------------------------------------------------------------


async def search_ids(desk: Desk, query: str) -> set[str]:
    response = await desk.client.get(
        f"{desk.ws}/search", params={"q": query}, headers=desk.owner.headers
    )
    assert response.status_code == 200, response.text
    return {hit["note_id"] for hit in response.json()["items"]}


class TestApprove:
    async def test_every_operation_applies_at_once(self, desk: Desk) -> None:
        first = await desk.note(title="First", tags=["draft"])
        second = await desk.note(title="Second")
        proposal = await desk.propose(
            update_note(first, title="First, revised", body=BODY + "quixotically rewritten\n"),
            add_tags(first, "reviewed"),
            remove_tags(first, "draft"),
            create_note("Fresh idea", "zygomorphic thoughts\n", ["idea"]),
            link_notes(first, second, "supports", comment="It backs it up."),
            create_task(second, "Call the plumber", based=False),
            summary_artifact("Digest of first", first),
        )
        applied = await desk.approved(proposal["id"], desk.editor)
        assert applied["state"] == "applied"
        assert applied["decided_by"] == desk.editor.user_id
        assert applied["decided_at"] is not None
        assert applied["applied_at"] is not None
        assert transitions(applied) == [
            (None, "pending"),
            ("pending", "approved"),
            ("approved", "applied"),
        ]

        result = applied["result"]
        notes = result["notes"]
        created_ids = [note_id for note_id, v in notes.items() if v["created"]]
        assert len(created_ids) == 1
        created_id = created_ids[0]
        assert set(notes) == {first["id"], second["id"], created_id}

        now_first = await desk.read_note(first["id"])
        assert now_first["title"] == "First, revised"
        assert now_first["body"] == BODY + "quixotically rewritten\n"
        assert sorted(now_first["tags"]) == ["reviewed"]
        assert notes[first["id"]] == {"before": 1, "after": now_first["version"], "created": False}
        assert now_first["version"] > 1
        now_second = await desk.read_note(second["id"])
        assert now_second["body"].endswith("- [ ] Call the plumber\n")
        assert notes[second["id"]] == {
            "before": 1,
            "after": now_second["version"],
            "created": False,
        }
        fresh = await desk.read_note(created_id)
        assert (fresh["title"], fresh["body"], fresh["tags"]) == (
            "Fresh idea",
            "zygomorphic thoughts\n",
            ["idea"],
        )
        assert notes[created_id] == {"before": None, "after": fresh["version"], "created": True}

        # The relation, the task, the search index and the artifact.
        [relation] = result["relationships_created"]
        links = await desk.relationships(first["id"])
        assert [(r["id"], r["type"], r["target_note_id"]) for r in links] == [
            (relation, "supports", second["id"])
        ]
        tasks = await desk.client.get(
            f"{desk.ws}/tasks", params={"note_id": second["id"]}, headers=desk.owner.headers
        )
        assert [t["text"] for t in tasks.json()["items"]] == ["Call the plumber"]
        assert await search_ids(desk, "zygomorphic") == {created_id}
        assert await search_ids(desk, "quixotically") == {first["id"]}
        [artifact_id] = result["artifacts_created"]
        artifact = await desk.client.get(
            f"{desk.ws}/artifacts/{artifact_id}", headers=desk.owner.headers
        )
        assert artifact.status_code == 200, artifact.text
        assert artifact.json()["title"] == "Digest of first"
        # Reading it back gives what the approval returned.
        assert (await desk.get(proposal["id"]))["result"] == result

    async def test_versions_and_events_name_the_agent_on_behalf_of_the_approver(
        self, desk: Desk
    ) -> None:
        note = await desk.note()
        other = await desk.note()
        proposal = await desk.propose(
            update_note(note, title="Agent's title"),
            create_note("Agent's note"),
            link_notes(note, other),
            headers={"X-Workflow-ID": "wf-attribution"},
        )
        response = await desk.approve(
            proposal["id"], desk.editor, headers={"X-Request-ID": "req-attribution"}
        )
        assert response.status_code == 200, response.text

        [newest, original] = await desk.revisions(note["id"])
        assert newest["version"] == 2
        assert newest["created_by"] == desk.agent.agent_id
        assert newest["on_behalf_of"] == desk.editor.user_id
        assert newest["proposal_id"] == proposal["id"]
        assert original["on_behalf_of"] is None
        assert original["proposal_id"] is None

        by_agent = await desk.events(proposal_id=proposal["id"], actor_kind="agent")
        # The submission is the agent's own; what applying did is the agent's for the approver.
        assert by_agent[0]["action"] == "proposal.pending"
        assert by_agent[0]["on_behalf_of"] is None
        events = by_agent[1:]
        assert sorted(event["action"] for event in events) == [
            "note.created",
            "note.updated",
            "relationship.created",
        ]
        for event in events:
            assert event["actor_id"] == desk.agent.agent_id
            assert event["on_behalf_of"] == desk.editor.user_id
            assert event["proposal_id"] == proposal["id"]
            assert event["workflow_id"] == "wf-attribution"
            assert event["request_id"] == "req-attribution"
        decisions = await desk.events(proposal_id=proposal["id"], actor_kind="user")
        assert [event["action"] for event in decisions] == ["proposal.approved", "proposal.applied"]
        assert {event["actor_id"] for event in decisions} == {desk.editor.user_id}
        verified = await desk.client.get(f"{desk.ws}/audit/verify", headers=desk.owner.headers)
        assert verified.json()["ok"] is True


class TestStaleness:
    async def test_an_edit_after_submission_makes_it_stale_before_and_at_approval(
        self, desk: Desk
    ) -> None:
        note = await desk.note()
        proposal = await desk.propose(update_note(note, body=BODY.replace("line one", "ONE")))
        edited = await desk.edit(note, title="A person got there first")

        before = await desk.get(proposal["id"])
        assert before["is_stale"] is True
        assert before["state"] == "pending"
        change = change_of(before, note["id"])
        assert change["stale"] is True
        assert (change["base_version"], change["current_version"]) == (1, 2)

        problem = assert_problem(await desk.approve(proposal["id"]), 409, "proposal-stale")
        assert problem["current_state"] == "stale"
        [stale] = problem["stale"]
        assert stale["note_id"] == note["id"]
        assert (stale["base_version"], stale["current_version"]) == (1, 2)

        after = await desk.get(proposal["id"])
        assert after["state"] == "stale"
        assert after["is_stale"] is True
        assert after["failure"] is not None
        assert after["failure"]["stale"][0]["note_id"] == note["id"]
        assert await desk.read_note(note["id"]) == {**edited, "attachments": []}
        listed = {p["id"]: p for p in await desk.listing(state="stale")}
        assert listed[proposal["id"]]["is_stale"] is True
        summary = await desk.client.get(f"{desk.proposals}/summary", headers=desk.owner.headers)
        assert summary.json() == {"pending": 0, "stale": 1}

    async def test_a_trashed_target_makes_a_three_operation_proposal_stale(
        self, desk: Desk
    ) -> None:
        first, second, third = await desk.note(), await desk.note(), await desk.note()
        proposal = await desk.propose(
            update_note(first, title="One"),
            add_tags(second, "two"),
            update_note(third, title="Three"),
        )
        await desk.trash(third)
        assert (await desk.get(proposal["id"]))["is_stale"] is True
        problem = assert_problem(await desk.approve(proposal["id"]), 409, "proposal-stale")
        assert problem["stale"][0]["operation"] == 2
        assert (await desk.get(proposal["id"]))["state"] == "stale"
        for note in (first, second):
            assert (await desk.read_note(note["id"]))["version"] == 1
            assert len(await desk.revisions(note["id"])) == 1
        assert [e["action"] for e in await desk.events(proposal_id=proposal["id"])] == [
            "proposal.pending",
            "proposal.stale",
        ]


class TestAtomicity:
    async def test_a_failing_third_operation_applies_nothing(self, desk: Desk) -> None:
        source, target = await desk.note(), await desk.note()
        proposal = await desk.propose(
            update_note(source, title="Should not stick"),
            create_note("Should not exist"),
            link_notes(source, target, "supports"),
        )
        # A person makes the same relation after submission: the third operation cannot apply.
        await desk.relate(source, target, "supports")
        assert (await desk.get(proposal["id"]))["is_stale"] is False

        problem = assert_problem(await desk.approve(proposal["id"]), 409, "proposal-apply-failed")
        assert problem["current_state"] == "failed"
        assert problem["failure"]["operation"] == 2
        assert problem["failure"]["type"].endswith("/duplicate-relationship")

        failed = await desk.get(proposal["id"])
        assert failed["state"] == "failed"
        assert failed["failure"]["operation"] == 2
        assert failed["result"] is None
        assert transitions(failed) == [
            (None, "pending"),
            ("pending", "approved"),
            ("approved", "failed"),
        ]
        # Operations 0 and 1 left nothing behind: no version, no note, no event.
        assert (await desk.read_note(source["id"]))["title"] == source["title"]
        assert len(await desk.revisions(source["id"])) == 1
        titles = await desk.client.get(
            f"{desk.ws}/notes", params={"limit": "100"}, headers=desk.owner.headers
        )
        assert "Should not exist" not in {n["title"] for n in titles.json()["items"]}
        assert len(await desk.relationships(source["id"])) == 1
        assert [e["action"] for e in await desk.events(proposal_id=proposal["id"])] == [
            "proposal.pending",
            "proposal.approved",
            "proposal.failed",
        ]
        verified = await desk.client.get(f"{desk.ws}/audit/verify", headers=desk.owner.headers)
        assert verified.json()["ok"] is True


# --- reverting --------------------------------------------------------------------------------


class TestRevert:
    async def test_revert_undoes_everything_with_new_versions(self, desk: Desk) -> None:
        first = await desk.note(title="First", tags=["keep"])
        second = await desk.note(title="Second")
        proposal = await desk.propose(
            update_note(first, title="Changed", body="Replaced\n"),
            add_tags(second, "agent-tag"),
            create_note("Made by the agent"),
            link_notes(first, second, "depends_on"),
            summary_artifact("Agent digest"),
        )
        applied = await desk.approved(proposal["id"])
        result = applied["result"]
        [created_id] = [i for i, v in result["notes"].items() if v["created"]]
        [artifact_id] = result["artifacts_created"]

        response = await desk.revert(proposal["id"], who=desk.editor)
        assert response.status_code == 200, response.text
        reverted = response.json()
        assert reverted["state"] == "reverted"
        assert transitions(reverted)[-1] == ("applied", "reverted")

        now_first = await desk.read_note(first["id"])
        assert (now_first["title"], now_first["body"], now_first["tags"]) == (
            "First",
            BODY,
            ["keep"],
        )
        assert now_first["version"] == result["notes"][first["id"]]["after"] + 1
        now_second = await desk.read_note(second["id"])
        assert now_second["tags"] == []
        assert now_second["version"] == result["notes"][second["id"]]["after"] + 1
        # The undo is a new version by the person who reverted, naming the proposal.
        [undo, *_] = await desk.revisions(first["id"])
        assert undo["created_by"] == desk.editor.user_id
        assert undo["proposal_id"] == proposal["id"]
        assert (await desk.read_note(created_id))["trashed_at"] is not None
        assert await desk.relationships(first["id"]) == []
        gone = await desk.client.get(
            f"{desk.ws}/artifacts/{artifact_id}", headers=desk.owner.headers
        )
        assert_problem(gone, 404, "artifact-not-found")

        [event] = await desk.events(proposal_id=proposal["id"], action="proposal.reverted")
        assert event["actor_id"] == desk.editor.user_id
        assert event["changes"]["forced"] == {"before": None, "after": False}

        # A reverted proposal cannot be applied or reverted again.
        again = assert_problem(await desk.approve(proposal["id"]), 409, "illegal-transition")
        assert again["current_state"] == "reverted"
        assert_problem(await desk.revert(proposal["id"]), 409, "illegal-transition")
        assert (await desk.read_note(first["id"]))["version"] == now_first["version"]

    async def test_revert_after_a_human_edit_needs_force(self, desk: Desk) -> None:
        note = await desk.note(title="Original")
        untouched = await desk.note()
        proposal = await desk.propose(
            update_note(note, title="By the agent"), add_tags(untouched, "agent")
        )
        applied = await desk.approved(proposal["id"])
        edited = await desk.edit(note, body="A person's later edit\n")

        problem = assert_problem(await desk.revert(proposal["id"]), 409, "revert-conflict")
        assert problem["notes"] == [
            {
                "note_id": note["id"],
                "applied_version": applied["result"]["notes"][note["id"]]["after"],
                "current_version": edited["version"],
            }
        ]
        assert (await desk.get(proposal["id"]))["state"] == "applied"
        assert (await desk.read_note(note["id"]))["version"] == edited["version"]
        assert (await desk.read_note(untouched["id"]))["tags"] == ["agent"]
        assert await desk.events(proposal_id=proposal["id"], action="proposal.reverted") == []

        forced = await desk.revert(proposal["id"], force=True)
        assert forced.status_code == 200, forced.text
        assert forced.json()["state"] == "reverted"
        now = await desk.read_note(note["id"])
        assert (now["title"], now["body"]) == ("Original", BODY)
        assert (await desk.read_note(untouched["id"]))["tags"] == []
        [event] = await desk.events(proposal_id=proposal["id"], action="proposal.reverted")
        assert event["changes"]["forced"] == {"before": None, "after": True}


# --- rebasing ---------------------------------------------------------------------------------


class TestRebase:
    async def test_a_clean_rebase_supersedes_and_merges(self, desk: Desk) -> None:
        note = await desk.note()
        proposal = await desk.propose(update_note(note, body=BODY.replace("line one", "LINE ONE")))
        await desk.edit(note, body=BODY.replace("line three", "line 3"))
        assert_problem(await desk.approve(proposal["id"]), 409, "proposal-stale")

        response = await desk.rebase(proposal["id"])
        assert response.status_code == 201, response.text
        rebased = response.json()
        assert rebased["state"] == "pending"
        assert rebased["is_stale"] is False
        assert rebased["supersedes_id"] == proposal["id"]
        assert rebased["submitted_by"] == desk.agent.agent_id
        assert rebased["rationale"] == proposal["rationale"]
        assert rebased["operations"][0]["base_version"] == 2
        old = await desk.get(proposal["id"])
        assert old["state"] == "superseded"
        assert old["superseded_by_id"] == rebased["id"]

        applied = await desk.approved(rebased["id"])
        assert applied["state"] == "applied"
        assert (await desk.read_note(note["id"]))["body"] == "LINE ONE\nline two\nline 3\n"

    async def test_a_conflicting_rebase_changes_nothing(self, desk: Desk) -> None:
        note = await desk.note()
        proposal = await desk.propose(update_note(note, body=BODY.replace("line one", "LINE ONE")))
        await desk.edit(note, body=BODY.replace("line one", "Line 1"))
        assert_problem(await desk.approve(proposal["id"]), 409, "proposal-stale")

        problem = assert_problem(await desk.rebase(proposal["id"]), 409, "merge-conflict")
        [conflict] = problem["conflicts"]
        assert conflict["note_id"] == note["id"]
        assert conflict["field"] == "body"
        assert conflict["proposed"] == ["LINE ONE"]
        assert conflict["current"] == ["Line 1"]
        assert conflict["base"] == ["line one"]
        assert (await desk.get(proposal["id"]))["state"] == "stale"
        assert [p["id"] for p in await desk.listing()] == [proposal["id"]]
        assert (await desk.read_note(note["id"]))["body"] == BODY.replace("line one", "Line 1")

    async def test_only_the_submitting_agent_rebases(self, desk: Desk) -> None:
        note = await desk.note()
        proposal = await desk.propose(update_note(note, title="Mine"))
        other = await desk.factory.agent(desk.workspace, desk.owner, name="Other")
        assert_problem(await desk.rebase(proposal["id"], who=other), 403, "not-the-submitter")
        assert (await desk.get(proposal["id"]))["state"] == "pending"
        assert len(await desk.listing()) == 1


# --- deciding: who may -----------------------------------------------------------------------


class TestDecisions:
    async def test_reject_needs_a_reason_the_agent_can_read(self, desk: Desk) -> None:
        note = await desk.note()
        proposal = await desk.propose(update_note(note, title="Meh"))
        for body in ({"reason": "   "}, {"reason": ""}, {}):
            response = await desk.act(proposal["id"], "reject", desk.owner, body)
            assert_problem(response, 422, "validation-failed")
        assert (await desk.get(proposal["id"]))["state"] == "pending"

        response = await desk.reject(proposal["id"], "  Too vague; name the section.  ")
        assert response.status_code == 200, response.text
        seen = await desk.get(proposal["id"], who=desk.agent)
        assert seen["state"] == "rejected"
        assert seen["reason"] == "Too vague; name the section."
        assert seen["decided_by"] == desk.owner.user_id
        assert seen["history"][-1]["reason"] == "Too vague; name the section."
        assert (await desk.read_note(note["id"]))["version"] == 1

    async def test_only_the_submitter_withdraws(self, desk: Desk) -> None:
        note = await desk.note()
        proposal = await desk.propose(update_note(note, title="Mine"))
        other = await desk.factory.agent(desk.workspace, desk.owner, name="Other")
        assert_problem(await desk.withdraw(proposal["id"], who=other), 403, "not-the-submitter")
        assert_problem(
            await desk.withdraw(proposal["id"], who=desk.editor), 403, "not-the-submitter"
        )
        assert (await desk.get(proposal["id"]))["state"] == "pending"
        withdrawn = await desk.withdraw(proposal["id"])
        assert withdrawn.status_code == 200, withdrawn.text
        assert withdrawn.json()["state"] == "withdrawn"

    async def test_agents_never_decide_not_even_on_their_own(self, desk: Desk) -> None:
        note = await desk.note()
        pending = await desk.propose(update_note(note, title="Pending"))
        other = await desk.note()
        applied = await desk.propose(update_note(other, title="Applied"))
        await desk.approved(applied["id"])
        for action, proposal_id, body in (
            ("approve", pending["id"], None),
            ("reject", pending["id"], {"reason": "I changed my mind."}),
            ("revert", applied["id"], None),
        ):
            response = await desk.act(proposal_id, action, desk.agent, body)
            assert_problem(response, 403, "agent-write-forbidden")
        assert (await desk.get(pending["id"]))["state"] == "pending"
        assert (await desk.get(applied["id"]))["state"] == "applied"

    async def test_viewers_cannot_decide_and_strangers_do_not_see(self, desk: Desk) -> None:
        note = await desk.note()
        pending = await desk.propose(update_note(note, title="Pending"))
        other = await desk.note()
        applied = await desk.propose(update_note(other, title="Applied"))
        await desk.approved(applied["id"])
        viewer = await desk.factory.member(desk.workspace, desk.owner, "viewer", name="viewer")
        stranger = await desk.factory.user("stranger")
        # Viewers read proposals, and that is all.
        assert (await desk.get(pending["id"], who=viewer))["id"] == pending["id"]
        for who, status, slug in (
            (viewer, 403, "insufficient-role"),
            (stranger, 404, "workspace-not-found"),
        ):
            for action, proposal_id, body in (
                ("approve", pending["id"], None),
                ("reject", pending["id"], {"reason": "No."}),
                ("withdraw", pending["id"], None),
                ("rebase", pending["id"], None),
                ("revert", applied["id"], None),
            ):
                response = await desk.act(proposal_id, action, who, body)
                assert_problem(response, status, slug)
        assert_problem(
            await desk.client.get(desk.url(pending["id"]), headers=stranger.headers),
            404,
            "workspace-not-found",
        )
        assert (await desk.get(pending["id"]))["state"] == "pending"
        assert (await desk.get(applied["id"]))["state"] == "applied"

    async def test_a_distinct_approver_can_be_required(
        self, factory: Factory, database: Database
    ) -> None:
        owner = await factory.user("owner")
        workspace = await factory.workspace(owner, name="Four eyes")
        sponsor = await factory.member(workspace, owner, "editor", name="sponsor")
        colleague = await factory.member(workspace, owner, "editor", name="colleague")
        agent = await factory.agent(workspace, sponsor, name="Sponsored")
        desk = Desk(factory.client, factory, database, owner, sponsor, agent, workspace)
        response = await desk.set_policy(require_distinct_approver=True)
        assert response.status_code == 200, response.text
        assert response.json()["require_distinct_approver"] is True

        note = await desk.note()
        proposal = await desk.propose(update_note(note, title="Needs four eyes"))
        assert_problem(await desk.approve(proposal["id"], sponsor), 403, "approver-not-distinct")
        assert (await desk.get(proposal["id"]))["state"] == "pending"
        applied = await desk.approved(proposal["id"], colleague)
        assert applied["decided_by"] == colleague.user_id

    async def test_a_disabled_agents_proposal_can_still_be_approved(self, desk: Desk) -> None:
        note = await desk.note()
        proposal = await desk.propose(update_note(note, title="Before I was disabled"))
        response = await desk.client.patch(
            f"{desk.ws}/agents/{desk.agent.agent_id}",
            json={"disabled": True},
            headers=desk.owner.headers,
        )
        assert response.status_code == 200, response.text
        assert_problem(
            await desk.client.get(desk.url(proposal["id"]), headers=desk.agent.headers),
            401,
            "invalid-credentials",
        )
        assert_problem(await desk.withdraw(proposal["id"]), 401, "invalid-credentials")
        applied = await desk.approved(proposal["id"])
        assert applied["state"] == "applied"
        [newest, _] = await desk.revisions(note["id"])
        assert newest["created_by"] == desk.agent.agent_id
        assert newest["on_behalf_of"] == desk.owner.user_id


# --- the workspace's policy ----------------------------------------------------------------


class TestPolicy:
    async def test_only_owners_set_it_and_it_starts_empty(self, desk: Desk, settings: Any) -> None:
        url = f"{desk.ws}/proposal-policy"
        default = await desk.client.get(url, headers=desk.editor.headers)
        assert default.status_code == 200, default.text
        assert default.json() == {
            "auto_apply": [],
            "require_distinct_approver": False,
            "proposal_ttl_hours": settings.proposal_ttl_hours,
        }
        assert_problem(
            await desk.client.put(
                url, json={"auto_apply": ["create_task"]}, headers=desk.editor.headers
            ),
            403,
            "insufficient-role",
        )
        assert_problem(
            await desk.client.put(url, json={}, headers=desk.agent.writing()),
            403,
            "agent-write-forbidden",
        )
        assert (await desk.client.get(url, headers=desk.owner.headers)).json() == default.json()

    async def test_auto_applying_trash_needs_confirmation(self, desk: Desk) -> None:
        assert_problem(await desk.set_policy(auto_apply=["trash_note"]), 422, "validation-failed")
        assert_problem(
            await desk.set_policy(auto_apply=["trash_note"], confirm_destructive=False),
            422,
            "validation-failed",
        )
        confirmed = await desk.set_policy(auto_apply=["trash_note"], confirm_destructive=True)
        assert confirmed.status_code == 200, confirmed.text
        assert confirmed.json()["auto_apply"] == ["trash_note"]

    async def test_listed_kinds_apply_at_once_and_mixed_proposals_wait(self, desk: Desk) -> None:
        response = await desk.set_policy(auto_apply=["create_task"], proposal_ttl_hours=48)
        assert response.status_code == 200, response.text
        assert response.json() == {
            "auto_apply": ["create_task"],
            "require_distinct_approver": False,
            "proposal_ttl_hours": 48,
        }
        note = await desk.note()
        proposal = await desk.propose(create_task(note, "Water the plants"))
        assert proposal["state"] == "applied"
        assert transitions(proposal) == [
            (None, "pending"),
            ("pending", "approved"),
            ("approved", "applied"),
        ]
        assert [entry["actor_kind"] for entry in proposal["history"]] == [
            "agent",
            "system",
            "system",
        ]
        task = await task_of(desk, note["id"])
        assert task["text"] == "Water the plants"
        # Applied by policy: the agent's version, on behalf of the owner who set the policy.
        [newest, _] = await desk.revisions(note["id"])
        assert newest["created_by"] == desk.agent.agent_id
        assert newest["on_behalf_of"] == desk.owner.user_id
        assert newest["proposal_id"] == proposal["id"]

        other = await desk.note()
        mixed = await desk.propose(
            create_task(other, "Also this"), update_note(other, title="And a rename")
        )
        assert mixed["state"] == "pending"
        assert (await desk.read_note(other["id"]))["version"] == 1
        assert transitions(mixed) == [(None, "pending")]


# --- listing, counting, tenancy ----------------------------------------------------------------


class TestListing:
    async def test_filters_and_pages(self, desk: Desk) -> None:
        notes = [await desk.note() for _ in range(3)]
        other_agent = await desk.factory.agent(desk.workspace, desk.owner, name="Other")
        made = []
        for index in range(5):
            headers = {
                "X-Workflow-ID": f"wf-{index % 2}",
                "X-Correlation-ID": f"corr-{index}",
            }
            proposal = await desk.propose(
                add_tags(notes[index % 3], f"t{index}", based=False),
                who=other_agent if index == 4 else desk.agent,
                headers=headers,
            )
            made.append(proposal)
        ids = [p["id"] for p in made]
        newest_first = ids[::-1]
        assert (await desk.reject(ids[1])).status_code == 200
        assert (await desk.withdraw(ids[2])).status_code == 200

        async def listed(**params: Any) -> list[str]:
            return [p["id"] for p in await desk.listing(**params)]

        assert await listed() == newest_first
        assert await listed(state="pending") == [ids[4], ids[3], ids[0]]
        assert await listed(state=["rejected", "withdrawn"]) == [ids[2], ids[1]]
        assert await listed(agent_id=other_agent.agent_id) == [ids[4]]
        assert await listed(agent_id=desk.agent.agent_id) == newest_first[1:]
        assert await listed(note_id=notes[0]["id"]) == [ids[3], ids[0]]
        assert await listed(workflow_id="wf-1") == [ids[3], ids[1]]
        assert await listed(correlation_id="corr-2") == [ids[2]]
        middle = made[2]["created_at"]
        assert await listed(created_after=middle) == [ids[4], ids[3]]
        assert await listed(created_before=middle) == [ids[1], ids[0]]
        assert await listed(state="pending", agent_id=desk.agent.agent_id) == [ids[3], ids[0]]
        # Agents read the listing too.
        assert [p["id"] for p in await desk.listing(who=desk.agent)] == newest_first

        # Pages of two, newest first, each once.
        seen: list[str] = []
        pages = 0
        cursor: str | None = None
        while True:
            params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
            response = await desk.client.get(
                desk.proposals, params=params, headers=desk.owner.headers
            )
            assert response.status_code == 200, response.text
            page = response.json()
            assert len(page["items"]) <= 2
            seen.extend(item["id"] for item in page["items"])
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == newest_first
        assert pages == 3
        assert_problem(
            await desk.client.get(
                desk.proposals, params={"cursor": "garbage"}, headers=desk.owner.headers
            ),
            400,
            "invalid-cursor",
        )

    async def test_summary_counts_what_waits(self, desk: Desk) -> None:
        url = f"{desk.proposals}/summary"
        assert (await desk.client.get(url, headers=desk.owner.headers)).json() == {
            "pending": 0,
            "stale": 0,
        }
        notes = [await desk.note() for _ in range(4)]
        made = [await desk.propose(update_note(note, title="Renamed")) for note in notes]
        await desk.edit(notes[0], title="Edited")
        assert_problem(await desk.approve(made[0]["id"]), 409, "proposal-stale")
        await desk.approved(made[1]["id"])
        summary = await desk.client.get(url, headers=desk.agent.headers)
        assert summary.status_code == 200, summary.text
        assert summary.json() == {"pending": 2, "stale": 1}


class TestTenancy:
    async def test_another_workspaces_members_cannot_reach_a_proposal(self, desk: Desk) -> None:
        note = await desk.note()
        proposal = await desk.propose(update_note(note, title="Private"))
        other = await make_desk(desk.factory, desk.database)
        proposal_id = proposal["id"]

        # Under their own workspace, the id is just unknown.
        for action, body in (
            ("approve", None),
            ("reject", {"reason": "No."}),
            ("revert", None),
        ):
            response = await other.act(proposal_id, action, other.owner, body)
            assert_problem(response, 404, "proposal-not-found")
        for action in ("withdraw", "rebase"):
            response = await other.act(proposal_id, action, other.agent)
            assert_problem(response, 404, "proposal-not-found")
        unknown_id = new_id()
        response = await desk.client.get(other.url(proposal_id), headers=other.owner.headers)
        unknown = await desk.client.get(other.url(unknown_id), headers=other.owner.headers)
        theirs = same_problem(assert_problem(response, 404, "proposal-not-found"), proposal_id)
        missing = same_problem(assert_problem(unknown, 404, "proposal-not-found"), unknown_id)
        assert {**theirs, "instance": None} == {**missing, "instance": None}

        # Under the proposal's workspace, they are not members: 404 for the workspace.
        for who in (other.owner, other.agent):
            assert_problem(
                await desk.client.get(desk.url(proposal_id), headers=who.headers),
                404,
                "workspace-not-found",
            )
        assert_problem(await desk.approve(proposal_id, other.owner), 404, "workspace-not-found")
        assert_problem(await desk.withdraw(proposal_id, other.agent), 404, "workspace-not-found")
        assert (await desk.get(proposal_id))["state"] == "pending"
        assert await other.listing() == []


async def test_a_decided_proposal_shows_no_stale_notes(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    owner = await factory.user("owner")
    workspace = await factory.workspace(owner)
    note = await factory.note(workspace, owner, body="one\n")
    agent = await factory.agent(workspace, owner)
    url = f"/v1/workspaces/{workspace['id']}/proposals"
    operation = {"op": "update_note", "note_id": note["id"], "base_version": 1, "body": "two\n"}
    submitted = await client.post(
        url, json={"rationale": "r", "operations": [operation]}, headers=agent.writing()
    )
    assert submitted.status_code == 201, submitted.text

    applied = await client.post(f"{url}/{submitted.json()['id']}/approve", headers=owner.headers)

    assert applied.status_code == 200, applied.text
    body = applied.json()
    # The note is now past the proposal's base version because of the proposal itself.
    assert [change["current_version"] for change in body["changes"]] == [2]
    assert [change["stale"] for change in body["changes"]] == [False]
    assert body["is_stale"] is False
