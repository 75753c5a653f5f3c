"""WAL checkpoints of inline SQLite happen in a worker thread, not in a request's commit.

SQLite only: PostgreSQL has no WAL of ours to checkpoint (its server does that itself)."""

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from structlog.testing import capture_logs

from ainotes.core.db import Database
from ainotes.core.sqlite_checkpoint import BACKSTOP_PAGES, WalCheckpointer
from tests.factories import Factory

pytestmark = pytest.mark.anyio


async def _until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    """Wait for the checkpointer's task, which nothing in it announces, to get somewhere."""
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 - polling a plain attribute
            await asyncio.sleep(0.01)


def _database_without_checkpoints(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA wal_autocheckpoint=0")
    connection.execute("CREATE TABLE t (x TEXT)")
    return connection


async def test_the_checkpointer_copies_the_wal_into_the_database_file(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    writer = _database_without_checkpoints(path)
    writer.executemany("INSERT INTO t VALUES (?)", [("x" * 1000,) for _ in range(500)])
    size_before = path.stat().st_size
    checkpointer = WalCheckpointer(str(path), asyncio.Lock(), pause_seconds=0)
    try:
        checkpointer.wrote()
        await _until(lambda: checkpointer.runs == 1)
        assert checkpointer.last is not None
        assert not checkpointer.last.busy
        assert checkpointer.last.wal_pages > 100
        assert checkpointer.last.checkpointed_pages == checkpointer.last.wal_pages
        # Nothing but a checkpoint writes the database file itself in WAL mode.
        assert path.stat().st_size > size_before + 400_000

        # Later writes are checkpointed too; the WAL starts over once it has been copied.
        writer.execute("INSERT INTO t VALUES ('y')")
        checkpointer.wrote()
        await _until(lambda: checkpointer.runs == 2)
        assert checkpointer.last.checkpointed_pages == checkpointer.last.wal_pages
        assert 0 < checkpointer.last.wal_pages < 10
    finally:
        await checkpointer.stop()
        writer.close()


async def test_writes_in_quick_succession_share_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    writer = _database_without_checkpoints(path)
    checkpointer = WalCheckpointer(str(path), asyncio.Lock(), pause_seconds=0.3)
    try:
        for _ in range(5):
            writer.execute("INSERT INTO t VALUES ('x')")
            checkpointer.wrote()
        await _until(lambda: checkpointer.runs == 1)
        assert checkpointer.last is not None
        assert checkpointer.last.checkpointed_pages == checkpointer.last.wal_pages > 0
        await asyncio.sleep(0.6)
        assert checkpointer.runs == 1
    finally:
        await checkpointer.stop()
        writer.close()


async def test_it_finishes_with_the_writers_of_the_process_waiting(tmp_path: Path) -> None:
    """Its last pass holds the write lock, so that no writer adds pages meanwhile: a PASSIVE
    checkpoint chasing new pages would never let the WAL start over."""
    path = tmp_path / "wal.db"
    writer = _database_without_checkpoints(path)
    write_lock = asyncio.Lock()
    checkpointer = WalCheckpointer(str(path), write_lock, pause_seconds=0)
    try:
        async with write_lock:
            writer.execute("INSERT INTO t VALUES ('x')")
            checkpointer.wrote()
            await asyncio.sleep(0.3)
            assert checkpointer.runs == 0
        await _until(lambda: checkpointer.runs == 1)
    finally:
        await checkpointer.stop()
        writer.close()


async def test_a_failed_checkpoint_is_logged_and_the_next_write_tries_again(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "no such directory" / "wal.db"
    checkpointer = WalCheckpointer(str(missing), asyncio.Lock(), pause_seconds=0)
    try:
        with capture_logs() as logs:
            checkpointer.wrote()
            await _until(lambda: any(e["event"] == "wal_checkpoint_failed" for e in logs))
        assert not missing.parent.exists()
        missing.parent.mkdir()
        with capture_logs() as logs:
            checkpointer.wrote()
            await _until(lambda: any(e["event"] == "wal_checkpoint_failed" for e in logs))
        # Not created by the checkpointer: a database that has gone away is not made anew.
        assert not missing.exists()
        _database_without_checkpoints(missing).close()
        checkpointer.wrote()
        await _until(lambda: checkpointer.runs == 1)
        assert checkpointer.last is not None
        assert not checkpointer.last.busy
    finally:
        await checkpointer.stop()


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
async def test_request_connections_leave_checkpoints_to_the_worker_thread(
    database: Database, factory: Factory
) -> None:
    """A commit on the event loop's thread does not copy the WAL (5-20 ms with every request
    in flight stopped) unless it is very long: the database's checkpointer does it after
    writes."""
    async with database.read_session() as session:
        autocheckpoint = (await session.execute(text("PRAGMA wal_autocheckpoint"))).scalar()
    assert autocheckpoint == BACKSTOP_PAGES
    checkpointer = database.checkpointer
    assert checkpointer is not None
    runs = checkpointer.runs

    owner = await factory.user()
    workspace = await factory.workspace(owner)
    for _ in range(3):
        await factory.note(workspace, owner, body="A line of the note.\n" * 200)

    await _until(lambda: checkpointer.runs > runs)
    assert checkpointer.last is not None
    assert checkpointer.last.checkpointed_pages > 0


async def test_a_write_after_stop_starts_nothing(tmp_path: Path) -> None:
    """The database is being disposed of: a late write must not leave a task and a
    connection behind it."""
    path = tmp_path / "wal.db"
    _database_without_checkpoints(path).close()
    checkpointer = WalCheckpointer(str(path), asyncio.Lock(), pause_seconds=0)
    checkpointer.wrote()
    await _until(lambda: checkpointer.runs == 1)
    await checkpointer.stop()

    checkpointer.wrote()
    await asyncio.sleep(0.1)

    assert checkpointer.runs == 1
    assert checkpointer._task is None
    assert checkpointer._connection is None
