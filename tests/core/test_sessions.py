"""How the request's session ends, as the event loop sees it."""

import asyncio
import contextlib
import sqlite3
from collections.abc import Coroutine
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import (
    Column,
    Float,
    MetaData,
    String,
    Table,
    bindparam,
    event,
    func,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from ainotes.app import create_app
from ainotes.core.config import Settings
from ainotes.core.db import Database, sqlite_pragmas
from ainotes.core.ids import new_id
from ainotes.core.rows import RowQuery
from ainotes.core.sqlite_inline import LeasesExhausted, ReadConnections, SqliteReadLease
from ainotes.notes.models import Note
from ainotes.notes.repository import NOTE_COLUMNS
from tests.conftest import served
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
            checked_out_at_start.append((message["status"], _connections_out(database)))

    for path in (f"{notes}/{note['id']}", notes, f"{notes}/{new_id()}"):
        await app(_get(path, owner.token), receive, send)
    assert checked_out_at_start == [(200, 0), (200, 0), (404, 0)]


def _connections_out(database: Database) -> int:
    """Connections out of the read engine's pool and, on SQLite, out on leases."""
    out: int = database.read_engine.pool.checkedout()  # type: ignore[attr-defined]
    return out + (database.read_connections.lent if database.read_connections else 0)


def _kept_by_a_lease(database: Database) -> int:
    """Connections a read session's lease keeps between its RowQueries: SQLite's, for one
    snapshot; on PostgreSQL each statement gives its connection back."""
    return 1 if database.read_connections is not None else 0


async def _a_note(factory: Factory, **fields: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """A stored note, and the parameters NOTE_COLUMNS reads it by."""
    owner = await factory.user()
    workspace = await factory.workspace(owner)
    note = await factory.note(workspace, owner, **fields)
    return note, {"workspace_id": workspace["id"], "note_id": note["id"]}


class TestReadLeases:
    """A read session's RowQueries run on a connection of their own, without the session's
    machinery: a plain sqlite3 connection (core/sqlite_inline.py), or an asyncpg connection
    straight from the pool for each (core/db.py)."""

    async def test_row_queries_begin_no_session_transaction(
        self, database: Database, factory: Factory
    ) -> None:
        note, key = await _a_note(factory)
        async with database.read_session() as session:
            found = await NOTE_COLUMNS.first(session, key)
            assert found is not None
            assert found["id"] == note["id"]
            assert not session.in_transaction()
            assert _connections_out(database) == _kept_by_a_lease(database)
        assert _connections_out(database) == 0

    async def test_orm_statements_after_row_queries_still_read(
        self, database: Database, factory: Factory
    ) -> None:
        """Meanwhile a PostgreSQL read holds one of the pool's connections, never two: were
        both kept, requests would wait on each other for the pool under load."""
        note, key = await _a_note(factory)
        async with database.read_session() as session:
            assert await NOTE_COLUMNS.first(session, key) is not None
            loaded = await session.get(Note, (key["workspace_id"], key["note_id"]))
            assert loaded is not None
            assert loaded.title == note["title"]
            # On SQLite still on the lease once it is taken; on PostgreSQL on the session's.
            assert await NOTE_COLUMNS.first(session, key) is not None
            assert _connections_out(database) == 1 + _kept_by_a_lease(database)
        assert _connections_out(database) == 0

    async def test_a_failing_session_gives_its_lease_back(
        self, database: Database, factory: Factory
    ) -> None:
        _, key = await _a_note(factory)

        async def fail_after_reading() -> None:
            async with database.read_session() as session:
                await NOTE_COLUMNS.first(session, key)
                raise LookupError

        with pytest.raises(LookupError):
            await fail_after_reading()
        assert _connections_out(database) == 0

    async def test_a_failed_statement_gives_the_lease_back_and_fails_as_sqlalchemys(
        self, database: Database, factory: Factory
    ) -> None:
        """It runs again the ordinary way, on the session's connection, which raises
        SQLAlchemy's error; the lease's connection is back by then."""
        _, key = await _a_note(factory)
        missing = Table("no_such_table", MetaData(), Column("id", String))
        broken = RowQuery(select(missing.c.id).where(missing.c.id == bindparam("id")))

        async with database.read_session() as session:
            with pytest.raises(DBAPIError, match="no_such_table"):
                await broken.all(session, {"id": "x"})
            # The session's own connection, which ran it again.
            assert _connections_out(database) == 1
            assert session.in_transaction()
        assert _connections_out(database) == 0
        async with database.read_session() as session:
            assert await NOTE_COLUMNS.first(session, key) is not None
            assert not session.in_transaction()

    @pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
    async def test_the_queries_of_one_session_read_one_snapshot(
        self, database: Database, factory: Factory
    ) -> None:
        """SQLite: a write committed between two RowQueries of a read session is not half seen.
        (Its ORM statements, if any, read a snapshot of their own, on the session's
        connection. On PostgreSQL each statement reads its own, as under READ COMMITTED.)"""
        note, key = await _a_note(factory, title="before")
        async with database.read_session() as session:
            first = await NOTE_COLUMNS.first(session, key)
            async with database.write_session() as writing:
                await writing.execute(
                    update(Note).where(Note.id == note["id"]).values(title="after")
                )
            again = await NOTE_COLUMNS.first(session, key)
        async with database.read_session() as session:
            later = await NOTE_COLUMNS.first(session, key)
        titles = [row["title"] if row else None for row in (first, again, later)]
        assert titles == ["before", "before", "after"]

    @pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
    async def test_leased_sqlite_connections_refuse_writes_and_only_so_many_stay_idle(
        self, database: Database
    ) -> None:
        path = make_url(database.url).database
        assert path is not None
        connections = ReadConnections(path, sqlite_pragmas(1000, inline=True), keep=2, limit=3)
        leases = [SqliteReadLease(connections) for _ in range(3)]
        for lease in leases:
            assert await lease.fetch("SELECT count(*) FROM workspaces", []) is not None
        assert (connections.lent, connections.idle) == (3, 0)
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            await leases[0].fetch("DELETE FROM workspaces", [])
        for lease in leases:
            await lease.release()
        assert (connections.lent, connections.idle) == (0, 2)
        connections.close()
        assert connections.idle == 0

    @pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
    async def test_leases_past_the_limit_are_refused_and_the_read_runs_on_its_session(
        self, database: Database, factory: Factory
    ) -> None:
        note, key = await _a_note(factory)
        connections = database.read_connections
        assert connections is not None
        held = []
        try:
            with contextlib.suppress(LeasesExhausted):
                for _ in range(1000):
                    held.append(connections.acquire())
            assert connections.lent == len(held) < 1000
            async with database.read_session() as session:
                found = await NOTE_COLUMNS.first(session, key)
                assert found is not None
                assert found["id"] == note["id"]
                assert session.in_transaction()  # on the session's connection, from the pool
            assert connections.lent == len(held)
        finally:
            # The database is the session's: later tests must find every lease back.
            for connection in held:
                connections.release(connection)
        assert connections.lent == 0

    @pytest.mark.parametrize("settings", ["postgres"], indirect=True)
    async def test_a_read_cancelled_amid_a_statement_gives_back_a_connection_that_works(
        self, database: Database
    ) -> None:
        """PostgreSQL, where a statement waits for the server: the lease's connection goes
        back to the pool, and what reads on it next is not confused by the cancelled one."""
        sleeping = RowQuery(select(func.pg_sleep(bindparam("seconds", type_=Float)).label("x")))
        started = asyncio.Event()

        async def read() -> None:
            async with database.read_session() as session:
                started.set()
                await sleeping.all(session, {"seconds": 5})

        task = asyncio.create_task(read())
        await started.wait()
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert _connections_out(database) == 0
        for _ in range(3):
            async with database.read_session() as session:
                assert await sleeping.all(session, {"seconds": 0}) == [{"x": None}]
                # On a connection of the pool, not run again on the session's after failing.
                assert not session.in_transaction()


@pytest.mark.parametrize("settings", ["postgres"], indirect=True)
async def test_requests_past_the_pools_size_wait_for_its_connections(
    settings: Settings, factory: Factory
) -> None:
    """PostgreSQL: more requests at once than the pool has connections wait for one of them,
    rather than each open (and, as it comes back to a full pool, close) one of its own."""
    owner = await factory.user()
    workspace = await factory.workspace(owner)
    note = await factory.note(workspace, owner)
    app = create_app(settings.model_copy(update={"database_pool_size": 2}))
    async with served(app) as http:
        opened = 0

        def count(*_: object) -> None:
            nonlocal opened
            opened += 1

        event.listen(app.state.database.read_engine.sync_engine, "connect", count)
        url = f"/v1/workspaces/{workspace['id']}/notes/{note['id']}"
        # Writes too: the access check and the write share the write's one connection.
        writes = [
            http.patch(url, json={"pinned": i % 2 == 0}, headers=owner.headers) for i in range(8)
        ]
        reads = [http.get(url, headers=owner.headers) for _ in range(32)]
        answers = await asyncio.gather(*writes, *reads)
    assert [a.status_code for a in answers] == [200] * 40
    assert opened <= 2
