"""Proposals under concurrency: many agents submitting, many people deciding at once.

A proposal is applied at most once however many people approve it at the same moment; an
approval racing a person's conditional edit of the same note never lets both through (no lost
update); identical submissions under one Idempotency-Key make one proposal. Each scenario runs
within one app and, where it matters, across two app instances on the same database (on
SQLite: two connection pools on one file, kept apart only by ``BEGIN IMMEDIATE``).
"""

import asyncio
import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest

from tests.factories import Actor, AgentActor, Factory
from tests.problems import assert_problem

pytestmark = pytest.mark.anyio

AGENTS = 4
PROPOSALS_PER_AGENT = 3
EDITORS = 3
RACES = 6
SUBMITTERS = 8

T = TypeVar("T")


@dataclass
class Team:
    client: httpx.AsyncClient
    owner: Actor
    workspace: dict[str, Any]
    editors: list[Actor]
    agents: list[AgentActor]

    @property
    def ws(self) -> str:
        return f"/v1/workspaces/{self.workspace['id']}"

    def proposal(self, proposal_id: str, *rest: str) -> str:
        return "/".join([f"{self.ws}/proposals", proposal_id, *rest])

    def note(self, note_id: str) -> str:
        return f"{self.ws}/notes/{note_id}"

    async def get(self, url: str, **params: Any) -> dict[str, Any]:
        response = await self.client.get(url, params=params, headers=self.owner.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def make_note(self, title: str, body: str) -> dict[str, Any]:
        response = await self.client.post(
            f"{self.ws}/notes", json={"title": title, "body": body}, headers=self.owner.headers
        )
        assert response.status_code == 201, response.text
        note: dict[str, Any] = response.json()
        return note

    async def audit_events(self, **filters: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        params: dict[str, Any] = {**filters, "order": "asc", "limit": 200}
        while True:
            page = await self.get(f"{self.ws}/audit", **params)
            events.extend(page["items"])
            if not page["next_cursor"]:
                return events
            params["cursor"] = page["next_cursor"]

    async def assert_audit_chain_ok(self) -> None:
        verification = await self.get(f"{self.ws}/audit/verify")
        assert verification["ok"], verification
        assert verification["first_broken_seq"] is None

    async def revision_versions(self, note_id: str) -> list[int]:
        page = await self.get(f"{self.note(note_id)}/revisions", limit=200)
        return [revision["version"] for revision in page["items"]]


def update_op(note: dict[str, Any], body: str) -> dict[str, Any]:
    return {
        "op": "update_note",
        "note_id": note["id"],
        "base_version": note["version"],
        "body": body,
    }


def submission(note: dict[str, Any], body: str) -> dict[str, Any]:
    return {"rationale": "Keep the note current.", "operations": [update_op(note, body)]}


def interleaved(items: list[T]) -> list[T]:
    """The items in a fixed scrambled order (a stride coprime with their count), so that
    requests for one proposal are spread among those for the others."""
    stride = next(s for s in range(7, 7 + len(items) + 1) if math.gcd(s, len(items)) == 1)
    return [items[(i * stride) % len(items)] for i in range(len(items))]


def assert_no_server_errors(responses: list[httpx.Response]) -> None:
    failures = [r for r in responses if r.status_code >= 500]
    assert not failures, f"{len(failures)} server error(s); first: {failures[0].text}"


@pytest.fixture
async def team(client: httpx.AsyncClient, factory: Factory) -> Team:
    owner = await factory.user("owner")
    workspace = await factory.workspace(owner)
    editors = [
        await factory.member(workspace, owner, "editor", name=f"editor{i}") for i in range(EDITORS)
    ]
    agents = [await factory.agent(workspace, owner, name=f"agent {i}") for i in range(AGENTS)]
    return Team(client, owner, workspace, editors, agents)


class TestManyAgentsAndManyApprovers:
    async def test_every_proposal_is_applied_exactly_once(self, team: Team) -> None:
        client = team.client
        notes = [
            await team.make_note(f"note {i}", f"original {i}\n")
            for i in range(AGENTS * PROPOSALS_PER_AGENT)
        ]
        # Each agent proposes edits of its own three notes, all agents at once.
        plan = [
            (team.agents[i // PROPOSALS_PER_AGENT], note, f"edited by agent {i} of {note['id']}\n")
            for i, note in enumerate(notes)
        ]
        submitted = await asyncio.gather(
            *(
                client.post(
                    f"{team.ws}/proposals", json=submission(note, body), headers=agent.writing()
                )
                for agent, note, body in plan
            )
        )
        assert_no_server_errors(submitted)
        assert [r.status_code for r in submitted] == [201] * len(plan), [
            r.text for r in submitted if r.status_code != 201
        ]
        proposals = [r.json() for r in submitted]
        assert {p["state"] for p in proposals} == {"pending"}
        assert len({p["id"] for p in proposals}) == len(plan)
        for proposal, (agent, _, _) in zip(proposals, plan, strict=True):
            assert proposal["agent_id"] == agent.agent_id

        # Every editor approves every proposal, all at once, in a shuffled order.
        attempts = interleaved([(p["id"], editor) for p in proposals for editor in team.editors])
        responses = await asyncio.gather(
            *(
                client.post(team.proposal(proposal_id, "approve"), headers=editor.headers)
                for proposal_id, editor in attempts
            )
        )

        assert_no_server_errors(responses)
        outcomes: dict[str, list[httpx.Response]] = defaultdict(list)
        for (proposal_id, _), response in zip(attempts, responses, strict=True):
            outcomes[proposal_id].append(response)
        approvers: dict[str, str] = {}
        for proposal_id, answers in outcomes.items():
            statuses = sorted(r.status_code for r in answers)
            assert statuses == [200] + [409] * (EDITORS - 1), (proposal_id, statuses)
            [winner] = [r for r in answers if r.status_code == 200]
            assert winner.json()["state"] == "applied"
            approvers[proposal_id] = winner.json()["decided_by"]
            for loser in (r for r in answers if r.status_code == 409):
                # Nobody edited these notes: a loser can only have found it applied already.
                problem = assert_problem(loser, 409, "illegal-transition")
                assert problem["current_state"] == "applied"
                assert problem["allowed_actions"] == ["revert"]

        for proposal, (_, note, body) in zip(proposals, plan, strict=True):
            current = await team.get(team.note(note["id"]))
            assert (current["body"], current["version"]) == (body, 2)
            # One new version per applied proposal: nothing was applied twice.
            assert await team.revision_versions(note["id"]) == [2, 1]
            detail = await team.get(team.proposal(proposal["id"]))
            assert detail["state"] == "applied"
            assert detail["decided_by"] == approvers[proposal["id"]]
            assert [(t["from_state"], t["to_state"]) for t in detail["history"]] == [
                (None, "pending"),
                ("pending", "approved"),
                ("approved", "applied"),
            ]
            assert detail["result"]["notes"] == {
                note["id"]: {"before": 1, "after": 2, "created": False}
            }

        applied = await team.audit_events(action="proposal.applied")
        approved = await team.audit_events(action="proposal.approved")
        ids = sorted(p["id"] for p in proposals)
        assert sorted(e["target_id"] for e in applied) == ids
        assert sorted(e["target_id"] for e in approved) == ids
        assert {e["target_id"]: e["actor_id"] for e in applied} == approvers
        updates = await team.audit_events(action="note.updated")
        assert Counter(e["target_id"] for e in updates) == {n["id"]: 1 for n in notes}
        await team.assert_audit_chain_ok()

    async def test_approvals_from_two_app_instances_apply_each_proposal_once(
        self, team: Team, instances: list[httpx.AsyncClient]
    ) -> None:
        notes = [await team.make_note(f"note {i}", "before\n") for i in range(AGENTS)]
        proposals = []
        for agent, note in zip(team.agents, notes, strict=True):
            response = await team.client.post(
                f"{team.ws}/proposals",
                json=submission(note, f"after {note['id']}\n"),
                headers=agent.writing(),
            )
            assert response.status_code == 201, response.text
            proposals.append(response.json())

        attempts = interleaved(
            [
                (proposal["id"], editor, instance)
                for proposal in proposals
                for editor in team.editors
                for instance in instances
            ]
        )
        responses = await asyncio.gather(
            *(
                instance.post(team.proposal(proposal_id, "approve"), headers=editor.headers)
                for proposal_id, editor, instance in attempts
            )
        )

        assert_no_server_errors(responses)
        per_proposal: dict[str, Counter[int]] = defaultdict(Counter)
        for (proposal_id, _, _), response in zip(attempts, responses, strict=True):
            per_proposal[proposal_id][response.status_code] += 1
            if response.status_code == 409:
                problem = assert_problem(response, 409, "illegal-transition")
                assert problem["current_state"] == "applied"
        losers = EDITORS * len(instances) - 1
        assert per_proposal == {p["id"]: Counter({200: 1, 409: losers}) for p in proposals}
        for note in notes:
            current = await team.get(team.note(note["id"]))
            assert (current["body"], current["version"]) == (f"after {note['id']}\n", 2)
            assert await team.revision_versions(note["id"]) == [2, 1]
        applied = await team.audit_events(action="proposal.applied")
        assert sorted(e["target_id"] for e in applied) == sorted(p["id"] for p in proposals)
        await team.assert_audit_chain_ok()


class TestApprovalRacingAPersonsEdit:
    """The proposal and the person both start from version 1 of the note; one of them wins."""

    async def _race(
        self, team: Team, client_a: httpx.AsyncClient, client_b: httpx.AsyncClient
    ) -> Counter[str]:
        agent, approver = team.agents[0], team.editors[0]
        winners: Counter[str] = Counter()
        for attempt in range(RACES):
            note = await team.make_note(f"race {attempt}", "line one\nline two\n")
            agent_body, human_body = f"agent wrote {attempt}\n", f"person wrote {attempt}\n"
            submitted = await team.client.post(
                f"{team.ws}/proposals", json=submission(note, agent_body), headers=agent.writing()
            )
            assert submitted.status_code == 201, submitted.text
            proposal_id = submitted.json()["id"]
            patch_headers = {**team.owner.headers, "If-Match": '"1"'}

            # Alternate which request is sent first.
            approve_call = client_a.post(
                team.proposal(proposal_id, "approve"), headers=approver.headers
            )
            patch_call = client_b.patch(
                team.note(note["id"]), json={"body": human_body}, headers=patch_headers
            )
            if attempt % 2:
                patch, approve = await asyncio.gather(patch_call, approve_call)
            else:
                approve, patch = await asyncio.gather(approve_call, patch_call)

            assert_no_server_errors([approve, patch])
            outcome = (approve.status_code, patch.status_code)
            assert outcome in {(200, 412), (409, 200)}, (
                f"attempt {attempt}: approve {approve.status_code} {approve.text}; "
                f"patch {patch.status_code} {patch.text}"
            )
            current = await team.get(team.note(note["id"]))
            detail = await team.get(team.proposal(proposal_id))
            if outcome == (200, 412):
                winners["approval"] += 1
                assert approve.json()["state"] == "applied"
                assert assert_problem(patch, 412, "stale-version")["current_version"] == 2
                assert current["body"] == agent_body
                assert detail["state"] == "applied"
            else:
                winners["person"] += 1
                problem = assert_problem(approve, 409, "proposal-stale")
                assert problem["current_state"] == "stale"
                assert current["body"] == human_body
                assert detail["state"] == "stale"
                assert detail["result"] is None
            # Exactly one of the two writes made version 2; nothing was overwritten silently.
            assert current["version"] == 2
            assert await team.revision_versions(note["id"]) == [2, 1]
            updates = await team.audit_events(action="note.updated", target_id=note["id"])
            assert len(updates) == 1
        await team.assert_audit_chain_ok()
        return winners

    async def test_within_one_app_never_both_succeed(self, team: Team) -> None:
        winners = await self._race(team, team.client, team.client)
        assert sum(winners.values()) == RACES

    async def test_across_two_app_instances_never_both_succeed(
        self, team: Team, instances: list[httpx.AsyncClient]
    ) -> None:
        winners = await self._race(team, instances[0], instances[1])
        assert sum(winners.values()) == RACES


class TestIdenticalSubmissionsUnderOneKey:
    async def _submit_all(
        self, team: Team, clients: list[httpx.AsyncClient], key: str
    ) -> tuple[list[httpx.Response], dict[str, Any]]:
        """Every request the same: one agent, one key, one body."""
        agent = team.agents[0]
        note = await team.make_note("shared", "text\n")
        body = submission(note, "proposed once\n")
        responses = await asyncio.gather(
            *(
                clients[i % len(clients)].post(
                    f"{team.ws}/proposals", json=body, headers=agent.writing(key)
                )
                for i in range(SUBMITTERS)
            )
        )
        return list(responses), body

    async def _assert_one_proposal(
        self, team: Team, responses: list[httpx.Response], body: dict[str, Any], key: str
    ) -> None:
        agent = team.agents[0]
        assert_no_server_errors(responses)
        statuses = Counter(r.status_code for r in responses)
        assert set(statuses) <= {201, 409}, [r.text for r in responses]
        assert statuses[201] >= 1
        for response in responses:
            if response.status_code == 409:
                assert_problem(response, 409, "idempotency-key-in-flight")
                assert response.headers["retry-after"] == "1"
        created = [r for r in responses if r.status_code == 201]
        assert len({r.json()["id"] for r in created}) == 1
        assert Counter(r.headers["idempotent-replayed"] for r in created)["false"] == 1
        [proposal_id] = {r.json()["id"] for r in created}

        # A later retry with the key replays the one proposal.
        retry = await team.client.post(
            f"{team.ws}/proposals",
            json=body,
            headers=agent.writing(key),
        )
        assert retry.status_code == 201, retry.text
        assert retry.headers["idempotent-replayed"] == "true"
        assert retry.json()["id"] == proposal_id

        listing = await team.get(f"{team.ws}/proposals", agent_id=agent.agent_id, limit=200)
        assert [p["id"] for p in listing["items"]] == [proposal_id]
        pending = await team.audit_events(action="proposal.pending")
        assert [e["target_id"] for e in pending] == [proposal_id]
        await team.assert_audit_chain_ok()

    async def test_within_one_app_one_proposal_is_made(self, team: Team) -> None:
        key = "same-key-one-app"
        responses, body = await self._submit_all(team, [team.client], key)
        await self._assert_one_proposal(team, responses, body, key)

    async def test_across_two_app_instances_one_proposal_is_made(
        self, team: Team, instances: list[httpx.AsyncClient]
    ) -> None:
        key = "same-key-two-apps"
        responses, body = await self._submit_all(team, instances, key)
        await self._assert_one_proposal(team, responses, body, key)
