"""How the request's session ends, as the event loop sees it."""

from collections.abc import Coroutine
from typing import Any

import pytest
from fastapi import FastAPI

from ainotes.core.db import Database
from ainotes.core.ids import new_id
from tests.factories import Factory

pytestmark = pytest.mark.anyio


def _get(path: str, token: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"ainotes.test"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8000),
    }


def _suspensions(request: Coroutine[Any, Any, None]) -> int:
    """Drive ``request`` by hand and count the times it gives the event loop a turn (each
    lets every other request in flight run meanwhile). It is resumed at once, without the
    loop: a request that waited for a real future would fail when resumed early, which the
    test reports too."""
    count = 0
    try:
        while True:
            request.send(None)
            count += 1
            assert count < 100, "the request waits for something outside it"
    except StopIteration:
        return count
    finally:
        # A request stopped halfway still ends its session and returns its connection.
        request.close()


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
async def test_an_inline_sqlite_read_runs_without_a_turn_of_the_event_loop(
    app: FastAPI, factory: Factory
) -> None:
    """SQLite only: its statements run on the event loop's thread, so a read has nothing to
    wait for, and closing its session must not make it wait either (AsyncSession's own exit
    closes in a shielded task: a turn of the loop per request, in which 30 others start and
    hold their sessions). On PostgreSQL every statement waits for the server."""
    owner = await factory.user()
    workspace = await factory.workspace(owner)
    note = await factory.note(workspace, owner)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    notes = f"/v1/workspaces/{workspace['id']}/notes"
    for path in (f"{notes}/{note['id']}", notes):
        sent.clear()
        assert _suspensions(app(_get(path, owner.token), receive, send)) == 0
        assert sent[0]["status"] == 200, sent


async def test_a_read_returns_its_connection_before_the_response_starts(
    app: FastAPI, database: Database, factory: Factory
) -> None:
    """The read session ends as the endpoint returns, before the first byte of the answer: a
    slow client never holds a connection (or, on SQLite, a snapshot that keeps the WAL from
    being checkpointed). The successes tell this from a session closed after the response;
    the problem (answered by the error handlers once FastAPI's exit stacks have unwound)
    checks that a failed read closes its session at all."""
    owner = await factory.user()
    workspace = await factory.workspace(owner)
    note = await factory.note(workspace, owner)
    notes = f"/v1/workspaces/{workspace['id']}/notes"
    checked_out_at_start: list[tuple[int, int]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            pool = database.read_engine.pool
            checked_out_at_start.append((message["status"], pool.checkedout()))  # type: ignore[attr-defined]

    for path in (f"{notes}/{note['id']}", notes, f"{notes}/{new_id()}"):
        await app(_get(path, owner.token), receive, send)
    assert checked_out_at_start == [(200, 0), (200, 0), (404, 0)]
