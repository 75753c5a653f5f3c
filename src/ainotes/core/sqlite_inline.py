"""A SQLite connection for SQLAlchemy's aiosqlite dialect that runs each call on the event
loop's own thread instead of handing it to a worker thread.

aiosqlite sends every cursor call (execute, fetch, close, begin, rollback) to a thread of its
own and waits for the answer: a dozen hand-overs for a read, forty for a note write, each a
wake-up and a GIL switch, which cost more than the statements themselves. Inline, a statement
blocks the loop only for as long as SQLite computes, provided it never waits for a lock:

- Reads of a WAL database never wait for a writer.
- A writer waits only to begin: ``BEGIN IMMEDIATE`` takes the write lock up front, and once it
  holds it no statement of the transaction, its commit included, waits again. So ``begin``
  tries the lock without SQLite's busy handler (which would sleep on the loop's thread) and,
  while another process holds it, waits with ``asyncio.sleep`` until the busy timeout.

It implements the part of aiosqlite's connection and cursor that the dialect uses.

``ReadConnections`` holds plain sqlite3 connections for read sessions' ``RowQuery``s
(core/rows.py), which need none of SQLAlchemy's session, connection and pool machinery.
"""

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Self

# Pauses between attempts at a lock another process holds: short at first, as most write
# transactions are, then no longer than SQLite's own busy handler would sleep.
_FIRST_PAUSE = 0.001
_LONGEST_PAUSE = 0.1


class InlineCursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> Self:
        if parameters is None:
            self._cursor.execute(sql)
        else:
            self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> Self:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _InlineQueue:
    """Stands in for aiosqlite's request queue, which the dialect uses directly to set the
    isolation level: the function runs at once."""

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as error:  # handed to the awaiting caller, as aiosqlite does
            future.set_exception(error)


class InlineConnection:
    def __init__(self, connection: sqlite3.Connection) -> None:
        # The names aiosqlite's Connection has, which the dialect reads.
        self._conn = connection
        self._connection: sqlite3.Connection | None = connection
        self._tx = _InlineQueue()

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor())

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        return await self.cursor().execute(sql, parameters)

    async def execute_fetchall(self, sql: str, parameters: Sequence[Any]) -> list[Any]:
        return self._conn.execute(sql, parameters).fetchall()

    async def begin(self, statement: str, wait_seconds: float) -> None:
        """Run ``statement`` (``BEGIN`` or ``BEGIN IMMEDIATE``); while the database is locked by
        another connection, retry with growing pauses for up to ``wait_seconds``, then raise
        SQLite's "database is locked"."""
        deadline = time.monotonic() + wait_seconds
        pause = _FIRST_PAUSE
        while True:
            try:
                self._conn.execute(statement)
                return
            except sqlite3.OperationalError as error:
                remaining = deadline - time.monotonic()
                # The primary code: SQLITE_BUSY_RECOVERY and the like are busy too.
                if error.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY or remaining <= 0:
                    raise
            await asyncio.sleep(min(pause, remaining))
            pause = min(pause * 2, _LONGEST_PAUSE)

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    async def close(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()

    def stop(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()


class LeasesExhausted(Exception):
    """As many read connections are out on leases as ``ReadConnections`` allows."""


class ReadConnections:
    """Idle read-only connections to the SQLite file at ``path``, for ``SqliteReadLease``s.

    A read session that runs only ``RowQuery``s (a GET of a note, a listing, the token check)
    through SQLAlchemy pays ~0.13 ms for its session: created, its connection checked out of the
    pool and begun, then rolled back, checked in and closed, each step in a greenlet of its own.
    That is half of such a GET's CPU, against ~2 µs for SQLite's own ``BEGIN`` and ``ROLLBACK``.
    Taking a connection here is a ``list.pop``; ``pragmas`` are the engine's own settings.

    At most ``limit`` are out at once. An inline read runs to its end without suspending, so
    one or two are out in practice; a read that waits for something else between its statements
    (a file, another service) keeps its connection meanwhile, and many such reads at once would
    each open another. Past the limit a lease refuses (``LeasesExhausted``), and the RowQuery
    runs on its session instead, whose connections the engine's pool bounds."""

    def __init__(self, path: str, pragmas: Sequence[str], keep: int, limit: int) -> None:
        self._path = path
        # query_only: a statement that would write through a lease fails instead.
        self._pragmas = (*pragmas, "PRAGMA query_only=ON")
        self._keep = keep
        self._limit = limit
        self._idle: list[sqlite3.Connection] = []
        # Connections out on leases now.
        self.lent = 0
        self._closed = False

    @property
    def idle(self) -> int:
        return len(self._idle)

    def acquire(self) -> sqlite3.Connection:
        if self.lent >= self._limit:
            raise LeasesExhausted(self._limit)
        try:
            connection = self._idle.pop()
        except IndexError:
            # As inline_connector's: tests may hand connections to another thread's loop. No
            # busy timeout, which would sleep on the loop's thread: the rare lock (another
            # process recovering the WAL) fails the RowQuery, which runs again on the session.
            connection = sqlite3.connect(
                self._path, timeout=0, isolation_level=None, check_same_thread=False
            )
            try:
                for pragma in self._pragmas:
                    connection.execute(pragma)
            except BaseException:
                connection.close()
                raise
        self.lent += 1
        return connection

    def release(self, connection: sqlite3.Connection) -> None:
        self.lent -= 1
        try:
            connection.rollback()
        except sqlite3.Error:
            connection.close()
            return
        if len(self._idle) < self._keep and not self._closed:
            self._idle.append(connection)
        else:
            connection.close()

    def close(self) -> None:
        """Close the idle connections, and each lent one as it comes back."""
        self._closed = True
        while self._idle:
            self._idle.pop().close()


class SqliteReadLease:
    """One read session's connection from ``ReadConnections`` (a ``ReadLease``, core/db.py):
    taken, and its transaction begun, at the session's first ``RowQuery``, so that all of them
    read one snapshot; given back when the session ends."""

    __slots__ = ("_connection", "_connections")

    def __init__(self, connections: ReadConnections) -> None:
        self._connections = connections
        self._connection: sqlite3.Connection | None = None

    @property
    def taken(self) -> bool:
        return self._connection is not None

    async def fetch(self, sql: str, parameters: Sequence[Any]) -> list[Any]:
        connection = self._connection
        if connection is None:
            connection = self._connections.acquire()
            try:
                # Deferred: a reader of a WAL database takes no lock, and never waits to begin.
                connection.execute("BEGIN")
            except BaseException:
                self._connections.release(connection)
                raise
            self._connection = connection
        return connection.execute(sql, parameters).fetchall()

    async def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            # Its rollback fails only on a broken connection, which is closed instead.
            self._connections.release(connection)


def inline_connector(path: str, timeout_seconds: float) -> Callable[[], Any]:
    """An ``async_creator`` for ``create_async_engine``. ``timeout_seconds`` is SQLite's busy
    timeout while the connection is set up (switching a new database to WAL takes a lock)."""

    async def connect() -> InlineConnection:
        # check_same_thread=False: the pool may hand the connection to another thread's loop
        # only in tests that run several loops; SQLite's serialized mode makes that safe.
        return InlineConnection(
            sqlite3.connect(path, timeout=timeout_seconds, check_same_thread=False)
        )

    return connect
