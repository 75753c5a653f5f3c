"""WAL checkpoints of an inline SQLite database, run by a worker thread instead of by commits.

By default the commit that takes the WAL past 1,000 pages also checkpoints it: it copies those
pages into the database file and syncs both files, 5-20 ms. Inline (core/sqlite_inline.py) that
commit runs on the event loop's thread, so every request in flight stops for that long, about
once every twenty note writes (every six, for a note with links and tasks).

So connections of an inline engine checkpoint only past ``BACKSTOP_PAGES``, and after writes the
database's ``WalCheckpointer`` runs PASSIVE checkpoints on a connection of its own in a worker
thread, where sqlite3 releases the GIL: requests go on meanwhile. The WAL starts over only once a
checkpoint has copied all of it, which one racing a stream of writes never does; so a first
checkpoint copies what is there while writers go on, and a second one copies what they added
meanwhile with the writers of this process waiting (about 3 ms, against 10-15 for the first).
It starts ``pause_seconds`` after a write, so that a page written by many writes in a row (an
index's last leaf, a search segment) is copied once.
"""

import asyncio
import contextlib
import contextvars
import sqlite3
import threading
from pathlib import Path
from typing import NamedTuple

import structlog

logger = structlog.get_logger("ainotes.database")

DEFAULT_PAUSE_SECONDS = 0.1
# Should the checkpointer fall behind (writers of other processes keep adding pages), a commit
# that finds the WAL this long checkpoints it itself, as SQLite does by default at 1,000 pages.
BACKSTOP_PAGES = 10_000


class CheckpointResult(NamedTuple):
    """What ``PRAGMA wal_checkpoint(PASSIVE)`` reports."""

    busy: bool
    wal_pages: int
    checkpointed_pages: int


class WalCheckpointer:
    """Checkpoints the WAL of the SQLite file at ``path`` from a worker thread, ``pause_seconds``
    after a write (``wrote``), holding ``write_lock`` for its last pass."""

    def __init__(
        self, path: str, write_lock: asyncio.Lock, pause_seconds: float = DEFAULT_PAUSE_SECONDS
    ) -> None:
        self._path = path
        self._write_lock = write_lock
        self._pause_seconds = pause_seconds
        self._wrote = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._connection: sqlite3.Connection | None = None
        # A checkpoint abandoned by a cancelled task goes on in its thread: closing the
        # connection waits for it.
        self._in_thread = threading.Lock()
        self._stopped = False
        self.last: CheckpointResult | None = None
        self.runs = 0

    def wrote(self) -> None:
        """Note that a write transaction committed; the first call starts the background
        task (again, should it have died), so that a process that only reads never starts one."""
        if self._stopped:
            return
        self._wrote.set()
        if self._task is None or self._task.done():
            # A context of its own: not the request's that happened to write first.
            self._task = asyncio.get_running_loop().create_task(
                self._run(), context=contextvars.Context()
            )

    async def checkpoint(self) -> CheckpointResult:
        """A PASSIVE checkpoint in a worker thread while writers go on, then one more with the
        writers of this process waiting, for the pages they added meanwhile."""
        await asyncio.to_thread(self._checkpoint)
        async with self._write_lock:
            result = await asyncio.to_thread(self._checkpoint)
        self.last = result
        self.runs += 1
        return result

    async def stop(self) -> None:
        self._stopped = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await asyncio.to_thread(self._close)

    async def _run(self) -> None:
        while True:
            await self._wrote.wait()
            await asyncio.sleep(self._pause_seconds)
            self._wrote.clear()
            try:
                await self.checkpoint()
            except Exception as error:  # the loop must outlive any one failure
                # Another process checkpointing at the same moment, or a disk error: the WAL
                # keeps the pages, and the next write tries again.
                logger.warning("wal_checkpoint_failed", error=str(error), exc_info=error)

    def _checkpoint(self) -> CheckpointResult:
        with self._in_thread:
            if self._connection is None:
                # mode=rw: a database that has gone away is an error, not a new empty file.
                # check_same_thread=False: each checkpoint may run on another thread of the
                # pool, one at a time.
                self._connection = sqlite3.connect(
                    Path(self._path).resolve().as_uri() + "?mode=rw",
                    uri=True,
                    isolation_level=None,
                    check_same_thread=False,
                )
            busy, wal_pages, checkpointed_pages = self._connection.execute(
                "PRAGMA wal_checkpoint(PASSIVE)"
            ).fetchone()
            return CheckpointResult(bool(busy), wal_pages, checkpointed_pages)

    def _close(self) -> None:
        with self._in_thread:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
