"""A SQLite connection for SQLAlchemy's aiosqlite dialect that runs each call on the event
loop's own thread instead of handing it to a worker thread.

aiosqlite sends every cursor call (execute, fetch, close, begin, rollback) to a thread of its
own and waits for the answer: a dozen and more thread hand-overs per request, each a wake-up
and a GIL switch, which cost more than the primary-key reads themselves. Reads of a WAL
database never wait for a writer's lock, so running them inline blocks the loop only for as
long as SQLite computes: the read engine uses this; the write engine keeps aiosqlite, because
a writer may wait for the lock (its busy timeout) and must not stall the loop meanwhile.

It implements the part of aiosqlite's connection and cursor that the dialect uses.
"""

import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Self


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


def inline_connector(path: str, timeout_seconds: float) -> Callable[[], Any]:
    """An ``async_creator`` for ``create_async_engine``."""

    async def connect() -> InlineConnection:
        # check_same_thread=False: the pool may hand the connection to another thread's loop
        # only in tests that run several loops; SQLite's serialized mode makes that safe.
        return InlineConnection(
            sqlite3.connect(path, timeout=timeout_seconds, check_same_thread=False)
        )

    return connect
