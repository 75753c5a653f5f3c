"""Concurrent writers on one note and on many, within one app and across two app instances.

On SQLite the two-instance case is what two server processes do: separate connection pools on
one database file, kept apart only by ``BEGIN IMMEDIATE`` and the wait for its lock.
"""

import asyncio
import contextlib
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import make_url, text

from ainotes.app import create_app
from ainotes.core.config import Settings
from ainotes.core.db import Database
from tests.conftest import served
from tests.factories import Factory
from tests.notes.support import Space, if_match, make_space
from tests.problems import assert_problem

pytestmark = pytest.mark.anyio

RACES = 5
WRITERS = 40


def _assert_no_server_errors(responses: list[httpx.Response]) -> None:
    failures = [r for r in responses if r.status_code >= 500]
    assert not failures, failures[0].text
    assert not [r for r in responses if "locked" in r.text.lower()]


async def _revision_versions(space: Space, note_id: str) -> list[int]:
    response = await space.client.get(
        space.note(note_id, "revisions"), params={"limit": 200}, headers=space.owner.headers
    )
    assert response.status_code == 200, response.text
    return [revision["version"] for revision in response.json()["items"]]


class TestRacingConditionalWrites:
    async def test_two_patches_with_the_same_if_match_give_one_200_and_one_412(
        self, space: Space
    ) -> None:
        for attempt in range(RACES):
            note = await space.make_note(title=f"race {attempt}")
            headers = if_match(1, space.owner.headers)

            responses = await asyncio.gather(
                *(
                    space.client.patch(space.note(note["id"]), json={"title": t}, headers=headers)
                    for t in ("left", "right")
                )
            )

            assert sorted(r.status_code for r in responses) == [200, 412]
            winner = next(r for r in responses if r.status_code == 200)
            loser = next(r for r in responses if r.status_code == 412)
            assert assert_problem(loser, 412, "stale-version")["current_version"] == 2
            current = await space.client.get(space.note(note["id"]), headers=space.owner.headers)
            assert current.json()["title"] == winner.json()["title"]
            assert await _revision_versions(space, note["id"]) == [2, 1]

    async def test_racing_trash_and_patch_with_the_same_if_match_let_one_win(
        self, space: Space
    ) -> None:
        for _ in range(RACES):
            note = await space.make_note()
            headers = if_match(1, space.owner.headers)

            patch, trash = await asyncio.gather(
                space.client.patch(space.note(note["id"]), json={"body": "x"}, headers=headers),
                space.client.delete(space.note(note["id"]), headers=headers),
            )

            assert sorted([patch.status_code, trash.status_code]) == [200, 412]
            assert await _revision_versions(space, note["id"]) == [2, 1]


class TestManyWriters:
    async def test_concurrent_creates_and_patches_all_succeed(self, space: Space) -> None:
        client = space.client
        existing = [await space.make_note(title=f"old {i}") for i in range(WRITERS)]

        creates = [
            client.post(space.notes, json={"title": f"new {i}"}, headers=space.owner.headers)
            for i in range(WRITERS)
        ]
        patches = [
            client.patch(
                space.note(note["id"]),
                json={"body": "patched", "tags": ["busy"]},
                headers=if_match(1, space.owner.headers),
            )
            for note in existing
        ]
        responses = await asyncio.gather(*creates, *patches)

        _assert_no_server_errors(responses)
        assert Counter(r.status_code for r in responses) == {201: WRITERS, 200: WRITERS}
        listing = await space.client.get(
            space.notes, params={"limit": 200}, headers=space.owner.headers
        )
        assert len(listing.json()["items"]) == 2 * WRITERS
        tagged = await space.client.get(
            space.notes, params={"limit": 200, "tag": "busy"}, headers=space.owner.headers
        )
        assert {n["id"] for n in tagged.json()["items"]} == {n["id"] for n in existing}
        assert {n["version"] for n in tagged.json()["items"]} == {2}

    async def test_unconditional_patches_to_one_note_each_get_their_own_version(
        self, space: Space
    ) -> None:
        client = space.client
        note = await space.make_note()
        writers = WRITERS // 2

        responses = await asyncio.gather(
            *(
                client.patch(
                    space.note(note["id"]),
                    json={"body": f"writer {i}"},
                    headers=space.owner.headers,
                )
                for i in range(writers)
            )
        )

        _assert_no_server_errors(responses)
        assert all(r.status_code == 200 for r in responses)
        assert sorted(r.json()["version"] for r in responses) == list(range(2, writers + 2))
        assert await _revision_versions(space, note["id"]) == list(range(writers + 1, 0, -1))


class TestWritersInTwoAppInstances:
    async def test_concurrent_writes_from_both_instances_all_succeed(
        self, space: Space, instances: list[httpx.AsyncClient]
    ) -> None:
        note = await space.make_note()
        headers = space.owner.headers

        requests = []
        for i in range(WRITERS // 2):
            client = instances[i % 2]
            requests.append(client.post(space.notes, json={"title": f"n{i}"}, headers=headers))
            requests.append(
                client.patch(space.note(note["id"]), json={"body": f"w{i}"}, headers=headers)
            )
        responses = await asyncio.gather(*requests)

        _assert_no_server_errors(responses)
        assert Counter(r.status_code for r in responses) == {201: WRITERS // 2, 200: WRITERS // 2}
        assert await _revision_versions(space, note["id"]) == list(range(WRITERS // 2 + 1, 0, -1))
        listing = await space.client.get(space.notes, params={"limit": 200}, headers=headers)
        assert len(listing.json()["items"]) == WRITERS // 2 + 1

    async def test_same_if_match_from_both_instances_gives_one_200_and_one_412(
        self, space: Space, instances: list[httpx.AsyncClient]
    ) -> None:
        for _ in range(RACES):
            note = await space.make_note()
            headers = if_match(1, space.owner.headers)

            responses = await asyncio.gather(
                *(
                    client.patch(space.note(note["id"]), json={"title": "mine"}, headers=headers)
                    for client in instances
                )
            )

            assert sorted(r.status_code for r in responses) == [200, 412]
            assert await _revision_versions(space, note["id"]) == [2, 1]


class TestWriterWaitingForAnotherProcess:
    """A writer that waits for a lock another process holds (SQLite's write lock, a
    PostgreSQL row lock) waits without holding up the server's other requests, and goes
    ahead once the lock is released."""

    async def test_other_requests_are_served_while_a_writer_waits(self, settings: Settings) -> None:
        # A short busy timeout: a writer that stalled the loop would fail in seconds, not 30.
        app = create_app(settings.model_copy(update={"sqlite_busy_timeout_ms": 5000}))
        async with served(app) as http:
            space = await make_space(Factory(app.state.database, http))
            note = await space.make_note()
            headers = space.owner.headers
            async with _lock_held_elsewhere(app.state.database, settings, note["id"]):
                patch = asyncio.create_task(
                    http.patch(space.note(note["id"]), json={"body": "after"}, headers=headers)
                )
                await asyncio.sleep(0.2)
                reads = [await http.get(space.note(note["id"]), headers=headers)]
                reads.append(await http.get(space.notes, headers=headers))
                assert not patch.done()
                assert [r.status_code for r in reads] == [200, 200]
                assert reads[0].json()["version"] == 1

            response = await patch
        assert response.status_code == 200, response.text
        assert response.json()["version"] == 2


@contextlib.asynccontextmanager
async def _lock_held_elsewhere(
    database: Database, settings: Settings, note_id: str
) -> AsyncIterator[None]:
    if settings.is_sqlite:
        path = make_url(settings.effective_database_url).database
        assert path is not None
        other_process = sqlite3.connect(path, isolation_level=None)
        other_process.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            other_process.execute("ROLLBACK")
            other_process.close()
        return
    async with database.write_engine.connect() as other_connection:
        statement = text("SELECT id FROM notes WHERE id = :note_id FOR UPDATE")
        await other_connection.execute(statement, {"note_id": note_id})
        yield
        await other_connection.rollback()
