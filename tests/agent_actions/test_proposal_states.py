"""The proposal state machine as a table: every state by every action.

Each cell brings a fresh proposal to a state, then tries one action. An allowed action moves
the proposal and appends exactly the expected history entries and ``proposal.<state>`` audit
events (carrying the proposal's id, the submission's workflow and the action's request id);
an illegal one is a 409 naming the current state and what that state allows, and changes
nothing. Expiry is read lazily: a proposal past its time shows ``expired`` at once, and the
first decision that finds it records the expiry (once).
"""

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from ainotes.core.db import Database
from tests.agent_actions.test_proposals import (
    BODY,
    Desk,
    link_notes,
    make_desk,
    transitions,
    update_note,
)
from tests.factories import Factory
from tests.problems import assert_problem

pytestmark = pytest.mark.anyio

ACTIONS = ("approve", "reject", "withdraw", "rebase", "revert")
# "expired-unrecorded": past its expiry, which nothing has recorded yet (reads show it).
STATES = (
    "pending",
    "applied",
    "rejected",
    "withdrawn",
    "expired",
    "expired-unrecorded",
    "stale",
    "superseded",
    "failed",
    "reverted",
)
# What a 409 lists as possible in each state; terminal states allow nothing.
ALLOWED_ACTIONS: dict[str, list[str]] = {
    "pending": ["approve", "reject", "withdraw", "rebase", "supersede"],
    "stale": ["reject", "withdraw", "rebase", "supersede"],
    "applied": ["revert"],
}
# The allowed cells, and the history entries each appends to the proposal acted on.
MOVES: dict[tuple[str, str], list[tuple[str, str]]] = {
    ("pending", "approve"): [("pending", "approved"), ("approved", "applied")],
    ("pending", "reject"): [("pending", "rejected")],
    ("pending", "withdraw"): [("pending", "withdrawn")],
    ("pending", "rebase"): [("pending", "superseded")],
    ("stale", "reject"): [("stale", "rejected")],
    ("stale", "withdraw"): [("stale", "withdrawn")],
    ("stale", "rebase"): [("stale", "superseded")],
    ("applied", "revert"): [("applied", "reverted")],
}
# Refusals more specific than illegal-transition.
REFUSALS: dict[tuple[str, str], set[str]] = {
    ("stale", "approve"): {"proposal-stale"},
    **{("expired-unrecorded", action): {"proposal-expired"} for action in ACTIONS[:4]},
    # Recorded expiry: either name is right, as long as it says "expired" and allows nothing.
    **{("expired", action): {"illegal-transition", "proposal-expired"} for action in ACTIONS},
    ("expired-unrecorded", "revert"): {"illegal-transition", "proposal-expired"},
}
SUCCESS_STATUS = {"rebase": 201}


def shown_state(state: str) -> str:
    return "expired" if state == "expired-unrecorded" else state


@dataclass
class Case:
    desk: Desk
    proposal_id: str
    workflow_id: str


async def _pending(desk: Desk, workflow_id: str) -> tuple[str, dict[str, Any]]:
    note = await desk.note()
    proposal = await desk.propose(
        update_note(note, body=BODY.replace("line one", "LINE ONE")),
        headers={"X-Workflow-ID": workflow_id},
    )
    return proposal["id"], note


async def bring_to(desk: Desk, state: str) -> Case:
    """A fresh proposal of the desk's agent, in ``state``."""
    workflow_id = f"wf-{uuid.uuid4().hex[:12]}"
    if state == "failed":
        # Its second operation fails at apply (the relation exists by then): not staleness.
        source, target = await desk.note(), await desk.note()
        proposal = await desk.propose(
            update_note(source, title="Renamed"),
            link_notes(source, target, "supports"),
            headers={"X-Workflow-ID": workflow_id},
        )
        proposal_id = proposal["id"]
        await desk.relate(source, target, "supports")
        assert_problem(await desk.approve(proposal_id), 409, "proposal-apply-failed")
        return Case(desk, proposal_id, workflow_id)
    proposal_id, note = await _pending(desk, workflow_id)
    match state:
        case "pending":
            pass
        case "applied":
            await desk.approved(proposal_id)
        case "rejected":
            assert (await desk.reject(proposal_id)).status_code == 200
        case "withdrawn":
            assert (await desk.withdraw(proposal_id)).status_code == 200
        case "expired":
            await desk.expire(proposal_id)
            assert_problem(await desk.approve(proposal_id), 409, "proposal-expired")
        case "expired-unrecorded":
            await desk.expire(proposal_id)
        case "stale":
            # A person edits another line: stale now, and a clean rebase later.
            await desk.edit(note, body=BODY.replace("line three", "line 3"))
            assert_problem(await desk.approve(proposal_id), 409, "proposal-stale")
        case "superseded":
            revised = await desk.propose(
                update_note(note, body=BODY.replace("line one", "Line One")),
                supersedes_id=proposal_id,
                headers={"X-Workflow-ID": workflow_id},
            )
            assert revised["supersedes_id"] == proposal_id
        case "reverted":
            await desk.approved(proposal_id)
            assert (await desk.revert(proposal_id)).status_code == 200
        case _:
            raise AssertionError(state)
    assert (await desk.get(proposal_id))["state"] == shown_state(state)
    return Case(desk, proposal_id, workflow_id)


async def perform(case: Case, action: str, request_id: str) -> httpx.Response:
    """Approve, reject and revert are the owner's; withdraw and rebase the submitting agent's."""
    desk = case.desk
    headers = {"X-Request-ID": request_id, "X-Workflow-ID": case.workflow_id}
    match action:
        case "approve":
            return await desk.approve(case.proposal_id, headers=headers)
        case "reject":
            return await desk.reject(case.proposal_id, "Not this one.", headers=headers)
        case "withdraw":
            return await desk.withdraw(case.proposal_id, headers=headers)
        case "rebase":
            return await desk.rebase(case.proposal_id, headers=headers)
        case "revert":
            return await desk.revert(case.proposal_id, headers=headers)
    raise AssertionError(action)


def check_events(
    events: list[dict[str, Any]],
    moves: list[tuple[str | None, str]],
    proposal_id: str,
    workflow_id: str,
    request_id: str,
) -> None:
    """One ``proposal.<to_state>`` event per transition, in order, carrying the proposal, the
    submission's workflow and the deciding request."""
    assert [event["action"] for event in events] == [f"proposal.{to}" for _, to in moves]
    for event, (before, after) in zip(events, moves, strict=True):
        assert event["target_type"] == "proposal"
        assert event["target_id"] == proposal_id
        assert event["proposal_id"] == proposal_id
        assert event["workflow_id"] == workflow_id
        assert event["request_id"] == request_id
        assert event["changes"]["state"] == {"before": before, "after": after}


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("state", STATES)
async def test_state_by_action(
    state: str, action: str, factory: Factory, database: Database
) -> None:
    desk = await make_desk(factory, database)
    case = await bring_to(desk, state)
    before = await desk.get(case.proposal_id)
    events_before = await desk.proposal_events(case.proposal_id)
    request_id = f"req-{state}-{action}-{uuid.uuid4().hex[:8]}"

    response = await perform(case, action, request_id)

    after = await desk.get(case.proposal_id)
    new_history = after["history"][len(before["history"]) :]
    new_events = (await desk.proposal_events(case.proposal_id))[len(events_before) :]
    moves = MOVES.get((state, action))
    if moves is not None:
        assert response.status_code == SUCCESS_STATUS.get(action, 200), response.text
        assert transitions({"history": new_history}) == moves
        assert after["state"] == moves[-1][1]
        for entry in new_history:
            assert entry["request_id"] == request_id
        check_events(new_events, moves, case.proposal_id, case.workflow_id, request_id)
        if action == "rebase":
            await _check_rebased(desk, response.json(), after, case, request_id)
        else:
            assert response.json()["state"] == after["state"]
        return

    slugs = REFUSALS.get((state, action), {"illegal-transition"})
    problem = assert_problem(response, 409)
    slug = problem["type"].rsplit("/", 1)[-1]
    assert slug in slugs, problem
    assert after["state"] == shown_state(state)
    if state == "expired-unrecorded" and slug == "proposal-expired":
        # The decision that found the expiry recorded it (and that much is kept).
        assert transitions({"history": new_history}) == [("pending", "expired")]
        assert new_history[0]["actor_kind"] == "system"
        check_events(
            new_events, [("pending", "expired")], case.proposal_id, case.workflow_id, request_id
        )
    else:
        assert new_history == []
        assert new_events == []
    # What the refusal says: the state the proposal is in, and what that state allows.
    assert problem.get("current_state") == shown_state(state), problem
    assert problem.get("allowed_actions") == ALLOWED_ACTIONS.get(shown_state(state), []), problem


async def _check_rebased(
    desk: Desk, new: dict[str, Any], old: dict[str, Any], case: Case, request_id: str
) -> None:
    assert new["id"] != case.proposal_id
    assert new["state"] == "pending"
    assert new["supersedes_id"] == case.proposal_id
    assert new["submitted_by"] == desk.agent.agent_id
    assert old["superseded_by_id"] == new["id"]
    assert transitions(new) == [(None, "pending")]
    check_events(
        await desk.proposal_events(new["id"]),
        [(None, "pending")],
        new["id"],
        case.workflow_id,
        request_id,
    )


class TestExpiry:
    async def test_expiry_shows_at_once_and_is_recorded_once(
        self, factory: Factory, database: Database
    ) -> None:
        desk = await make_desk(factory, database)
        case = await bring_to(desk, "pending")
        await desk.expire(case.proposal_id)

        shown = await desk.get(case.proposal_id)
        assert shown["state"] == "expired"
        assert transitions(shown) == [(None, "pending")]
        listed = {p["id"]: p for p in await desk.listing()}
        assert listed[case.proposal_id]["state"] == "expired"
        # Waiting proposals past their time are no longer counted.
        summary = await desk.client.get(f"{desk.proposals}/summary", headers=desk.owner.headers)
        assert summary.json() == {"pending": 0, "stale": 0}

        first = assert_problem(await desk.approve(case.proposal_id), 409, "proposal-expired")
        assert first["current_state"] == "expired"
        second = await desk.approve(case.proposal_id)
        assert second.status_code == 409
        assert second.json()["current_state"] == "expired"

        recorded = await desk.get(case.proposal_id)
        assert transitions(recorded) == [(None, "pending"), ("pending", "expired")]
        assert recorded["history"][1]["actor_kind"] == "system"
        expired_events = [
            event
            for event in await desk.proposal_events(case.proposal_id)
            if event["action"] == "proposal.expired"
        ]
        assert len(expired_events) == 1
        assert expired_events[0]["actor_kind"] == "system"
        # Nothing was applied.
        note_id = recorded["changes"][0]["note_id"]
        assert (await desk.read_note(note_id))["body"] == BODY

    async def test_listing_by_state_agrees_with_what_reads_show(
        self, factory: Factory, database: Database
    ) -> None:
        """A proposal past its expiry is listed as expired, not as pending, before anything
        has recorded it."""
        desk = await make_desk(factory, database)
        case = await bring_to(desk, "pending")
        await desk.expire(case.proposal_id)
        assert [p["id"] for p in await desk.listing(state="expired")] == [case.proposal_id]
        assert await desk.listing(state="pending") == []


async def test_stale_is_recorded_even_though_the_approval_is_refused(
    factory: Factory, database: Database
) -> None:
    desk = await make_desk(factory, database)
    case = await bring_to(desk, "pending")
    note_id = (await desk.get(case.proposal_id))["changes"][0]["note_id"]
    await desk.edit({"id": note_id}, title="A person's title")
    request_id = f"req-stale-{uuid.uuid4().hex[:8]}"
    problem = assert_problem(
        await desk.approve(case.proposal_id, headers={"X-Request-ID": request_id}),
        409,
        "proposal-stale",
    )
    assert problem["current_state"] == "stale"
    stale = await desk.get(case.proposal_id)
    assert stale["state"] == "stale"
    assert transitions(stale)[-1] == ("pending", "stale")
    check_events(
        (await desk.proposal_events(case.proposal_id))[1:],
        [("pending", "stale")],
        case.proposal_id,
        case.workflow_id,
        request_id,
    )
