"""Racing writes that touch links: every answer is a 2xx or a documented problem, never a 500.

On SQLite writers queue on the database lock, so these races cannot interleave and every
outcome is one of the serial ones; on PostgreSQL they interleave on row locks, which is where a
check-then-insert could let a constraint violation or a deadlock escape.
"""

import asyncio
import itertools
from typing import Any

import httpx
import pytest

from tests.notes.support import Space
from tests.problems import assert_problem
from tests.relationships.support import links_of, relate, relationships_url

pytestmark = pytest.mark.anyio

RACES = 5
RACERS = 6


def _assert_no_server_errors(responses: list[httpx.Response]) -> None:
    failures = [r for r in responses if r.status_code >= 500]
    assert not failures, failures[0].text


async def _relate(space: Space, source: str, target: str) -> httpx.Response:
    return await space.client.post(
        relationships_url(space),
        json={"source_note_id": source, "target_note_id": target, "type": "supports"},
        headers=space.owner.headers,
    )


async def _patch(space: Space, note: dict[str, Any], **fields: Any) -> httpx.Response:
    return await space.client.patch(
        space.note(note["id"]), json=fields, headers=space.owner.headers
    )


async def _event_seq(space: Space, target_id: str, action: str) -> int:
    response = await space.client.get(
        f"/v1/workspaces/{space.workspace['id']}/audit",
        params={"target_id": target_id, "action": action},
        headers=space.owner.headers,
    )
    assert response.status_code == 200, response.text
    [event] = response.json()["items"]
    seq: int = event["seq"]
    return seq


class TestManualRelations:
    async def test_racing_creates_of_one_relation_make_one_and_name_it(self, space: Space) -> None:
        for attempt in range(RACES):
            alpha = await space.make_note(title=f"alpha {attempt}")
            beta = await space.make_note(title=f"beta {attempt}")

            responses = await asyncio.gather(
                *(_relate(space, alpha["id"], beta["id"]) for _ in range(RACERS))
            )

            _assert_no_server_errors(responses)
            created = [r for r in responses if r.status_code == 201]
            assert len(created) == 1, [r.text for r in responses]
            winner = created[0].json()["id"]
            for response in responses:
                if response.status_code != 201:
                    problem = assert_problem(response, 409, "duplicate-relationship")
                    assert problem["existing_id"] == winner
            assert [link["id"] for link in await links_of(space, alpha["id"])] == [winner]

    async def test_racing_deletes_of_one_relation_delete_it_once(self, space: Space) -> None:
        for attempt in range(RACES):
            alpha = await space.make_note(title=f"alpha {attempt}")
            beta = await space.make_note(title=f"beta {attempt}")
            relation = await relate(space, alpha["id"], beta["id"])
            url = f"{relationships_url(space)}/{relation['id']}"

            responses = await asyncio.gather(
                *(space.client.delete(url, headers=space.owner.headers) for _ in range(RACERS))
            )

            _assert_no_server_errors(responses)
            assert sorted(r.status_code for r in responses) == [204] + [404] * (RACERS - 1)
            for response in responses:
                if response.status_code == 404:
                    assert_problem(response, 404, "relationship-not-found")
            # One delete happened, so one event was recorded.
            await _event_seq(space, relation["id"], "relationship.deleted")

    async def test_create_racing_trash_of_its_target_comes_wholly_before_or_after(
        self, space: Space
    ) -> None:
        for attempt in range(RACES):
            alpha = await space.make_note(title=f"alpha {attempt}")
            beta = await space.make_note(title=f"beta {attempt}")

            created, trashed = await asyncio.gather(
                _relate(space, alpha["id"], beta["id"]),
                space.client.delete(space.note(beta["id"]), headers=space.owner.headers),
            )

            _assert_no_server_errors([created, trashed])
            assert trashed.status_code == 200, trashed.text
            if created.status_code != 201:
                assert_problem(created, 409, "related-note-in-trash")
                continue
            # The audit chain is in commit order: a relation made to a note already in the
            # trash would come after the trash.
            made = await _event_seq(space, created.json()["id"], "relationship.created")
            assert made < await _event_seq(space, beta["id"], "note.trashed")

    async def test_create_racing_trash_and_purge_of_its_target(self, space: Space) -> None:
        for attempt in range(RACES):
            alpha = await space.make_note(title=f"alpha {attempt}")
            beta = await space.make_note(title=f"beta {attempt}")

            async def trash_and_purge(target: dict[str, Any] = beta) -> list[httpx.Response]:
                trashed = await space.client.delete(
                    space.note(target["id"]), headers=space.owner.headers
                )
                purged = await space.client.post(
                    space.note(target["id"], "purge"), headers=space.owner.headers
                )
                return [trashed, purged]

            created, removal = await asyncio.gather(
                _relate(space, alpha["id"], beta["id"]), trash_and_purge()
            )

            _assert_no_server_errors([created, *removal])
            assert [r.status_code for r in removal] == [200, 204]
            if created.status_code == 404:
                assert_problem(created, 404, "note-not-found")
            elif created.status_code == 409:
                assert_problem(created, 409, "related-note-in-trash")
            else:
                assert created.status_code == 201, created.text
            # Whatever the order, nothing is left pointing at the purged note.
            assert await links_of(space, alpha["id"]) == []


class TestBodyLinks:
    async def test_notes_linking_each_other_saved_at_once(self, space: Space) -> None:
        # On PostgreSQL each save locks its own note, and inserting a link to the other note
        # takes FOR KEY SHARE on it for the foreign key: with FOR UPDATE the two saves would
        # deadlock; notes are locked FOR NO KEY UPDATE, which does not conflict.
        for attempt in range(RACES):
            left = await space.make_note(title=f"left {attempt}")
            right = await space.make_note(title=f"right {attempt}")

            responses = await asyncio.gather(
                _patch(space, left, body=f"See [[right {attempt}]]."),
                _patch(space, right, body=f"See [[left {attempt}]]."),
            )

            _assert_no_server_errors(list(responses))
            assert [r.status_code for r in responses] == [200, 200]
            [to_right] = await links_of(space, left["id"])
            [to_left] = await links_of(space, right["id"])
            assert (to_right["target_note_id"], to_left["target_note_id"]) == (
                right["id"],
                left["id"],
            )


def _keys_in_insertion_order(prefix: str) -> tuple[str, str]:
    """Two title keys that share a slot of a two-element set in this process, so that the
    set's order is the order they were added in: two renames that add them in opposite orders
    would walk them in opposite orders. (Across workers, hash seeds differ and any two keys can
    come out either way.)"""
    for i, j in itertools.combinations(range(10_000), 2):
        first, second = f"{prefix}{i}", f"{prefix}{j}"
        if list({first, second}) != list({second, first}):
            return first, second
    raise AssertionError("no two such keys")


async def test_titles_swapped_at_once_never_deadlock(space: Space) -> None:
    """Each rename re-points the links that name the old and the new title: the same two keys
    for both writers. PostgreSQL detects a deadlock (a 503 here) if they lock those links in
    opposite orders."""
    failures: list[str] = []
    for attempt in range(20):
        first, second = _keys_in_insertion_order(f"t{attempt}x")
        one = await space.make_note(title=first)
        other = await space.make_note(title=second)
        for n in range(40):
            await space.make_note(
                title=f"linker {attempt} {n}", body=f"[[{first}]] and [[{second}]]"
            )
        responses = await asyncio.gather(
            _patch(space, one, title=second), _patch(space, other, title=first)
        )
        failures += [r.text for r in responses if r.status_code != 200]
    assert failures == []
