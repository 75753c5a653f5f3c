"""Engines, sessions and the one-transaction-per-request session dependencies.

SQLite: WAL, foreign keys, and write transactions that begin with ``BEGIN IMMEDIATE`` so that
concurrent writers queue for the lock instead of failing when a deferred transaction tries to
upgrade. Statements run on the event loop's thread (core/sqlite_inline.py): reads never wait
for a lock in WAL mode, and a writer waits only for ``BEGIN IMMEDIATE``, which it retries with
``asyncio.sleep`` while another process holds the lock. Within one process, writers queue on
an asyncio lock instead.
PostgreSQL: asyncpg with a connection pool; reads and writes share one engine for now.
"""

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, NewType, Protocol

from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import greenlet_spawn

from ainotes.core.access_cache import AccessCache, VerifiedAccess, access_changed
from ainotes.core.config import Settings
from ainotes.core.sqlite_checkpoint import BACKSTOP_PAGES, WalCheckpointer
from ainotes.core.sqlite_inline import ReadConnections, SqliteReadLease, inline_connector

ReadOnlySession = NewType("ReadOnlySession", AsyncSession)
_holding_write_lock: ContextVar[bool] = ContextVar("holding_write_lock", default=False)
WritableSession = NewType("WritableSession", ReadOnlySession)
# The key of a read session's ReadLease in its ``info``.
READ_LEASE = "ainotes.read_lease"


# The decoder's scanner (the C one where it is built): not in the standard library's stubs.
_scan_json: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def loads_json(text: str) -> Any:
    """``json.loads`` for the JSON columns, a note's tags among them, 51 of them on a page of a
    listing: its own decoder's scanner, without the three Python calls around it, takes 0.3 µs
    for a list of tags against 1.1. What the scanner does not read whole (a value with
    whitespace around it), and what it fails on, goes to ``json.loads``."""
    if type(text) is not str:
        return json.loads(text)
    try:
        value, end = _scan_json(text, 0)
    except (StopIteration, ValueError):
        return json.loads(text)
    return value if end == len(text) else json.loads(text)


def runs_sqlite_inline(settings: Settings) -> bool:
    """Whether the database is a SQLite file whose statements run on the event loop's thread
    (core/sqlite_inline.py)."""
    url = settings.effective_database_url
    if not url.startswith("sqlite"):
        return False
    database = make_url(url).database
    return settings.sqlite_inline and bool(database) and database != ":memory:"


def sqlite_pragmas(busy_timeout_ms: int, *, inline: bool) -> list[str]:
    """The settings of every connection to the SQLite file."""
    return [
        "PRAGMA journal_mode=WAL",
        "PRAGMA foreign_keys=ON",
        # Inline, SQLite's busy handler would sleep on the event loop's thread: the one wait a
        # transaction has, for BEGIN IMMEDIATE, is InlineConnection.begin's instead, and a read
        # that meets a lock (WAL recovery) fails at once, retryably.
        f"PRAGMA busy_timeout={0 if inline else int(busy_timeout_ms)}",
        # In WAL mode NORMAL is durable against application crashes, and much faster than FULL.
        "PRAGMA synchronous=NORMAL",
        # The database's WalCheckpointer checkpoints, off the event loop's thread.
        *([f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}"] if inline else []),
    ]


def _sqlite_engine(
    url: str, busy_timeout_ms: int, begin: str, pool_size: int, *, inline: bool
) -> AsyncEngine:
    """``inline``: statements on the event loop's thread (core/sqlite_inline.py); only for a
    database file."""
    if inline:
        engine = create_async_engine(
            url,
            async_creator=inline_connector(str(make_url(url).database), busy_timeout_ms / 1000),
            pool_size=pool_size,
            max_overflow=pool_size,
            json_deserializer=loads_json,
        )
    else:
        engine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            connect_args={"timeout": busy_timeout_ms / 1000},
            json_deserializer=loads_json,
        )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when a transaction begins (SQLAlchemy docs,
        # "Serializable isolation / Savepoints / Transactional DDL (asyncio version)").
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in sqlite_pragmas(busy_timeout_ms, inline=inline):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        if not inline:
            connection.exec_driver_sql(begin)
            return
        try:
            connection.connection.dbapi_connection.run_async(
                lambda driver: driver.begin(begin, busy_timeout_ms / 1000)
            )
        except sqlite3.Error as error:
            # As SQLAlchemy wraps a statement's error, so that a lock held past the busy
            # timeout is the same retryable error on every path.
            raise OperationalError(begin, None, error) from error

    return engine


class ReadLease(Protocol):
    """How a read session runs its ``RowQuery``s (core/rows.py): on a connection of its own,
    without SQLAlchemy's session, connection and pool machinery around each statement, ~0.13
    ms of CPU per request, half of a GET of a note's on inline SQLite.

    ``SqliteReadLease`` keeps its connection, and the transaction it begins there, from the
    session's first RowQuery to its end, so that all of them read one snapshot.
    ``AsyncpgReadLease`` takes a pool connection for each statement and gives it back after
    it: a request never holds two of the pool's connections (its RowQueries' and its ORM
    statements'), which under load would have requests wait on each other for the pool."""

    @property
    def taken(self) -> bool:
        """Whether it holds a connection between statements."""

    async def fetch(self, sql: str, parameters: Sequence[Any]) -> Sequence[Sequence[Any]]: ...

    async def release(self) -> None:
        """Give back its connection: when the session ends, or after ``fetch`` failed."""


class AsyncpgReadLease:
    """A connection straight from the engine's pool for each statement: ~0.03 ms with the
    greenlets around it, against ~0.12 for a session's connection, begun, rolled back and
    closed. Outside a transaction each statement reads its own snapshot, as it does under READ
    COMMITTED inside one."""

    __slots__ = ("_engine",)

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @property
    def taken(self) -> bool:
        return False

    async def fetch(self, sql: str, parameters: Sequence[Any]) -> Sequence[Sequence[Any]]:
        connection = await self._engine.raw_connection()
        driver = connection.driver_connection
        try:
            rows: Sequence[Sequence[Any]] = await driver.fetch(sql, *parameters)  # type: ignore[union-attr]
        except BaseException:
            # A connection the server dropped is not handed out again. (Cancelled amid the
            # statement, asyncpg cancels it on the server, and the connection's next use waits
            # for that: it goes back.)
            closed = driver is None or driver.is_closed()
            await greenlet_spawn(connection.invalidate if closed else connection.close)
            raise
        # Checking in may close the connection (past its recycle time), which awaits the driver.
        await greenlet_spawn(connection.close)
        return rows

    async def release(self) -> None:
        pass


class Database:
    """The engines and sessionmakers of one application instance (owned by the lifespan)."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.effective_database_url
        self.is_sqlite = self.url.startswith("sqlite")
        inline = runs_sqlite_inline(settings)
        self.checkpointer: WalCheckpointer | None = None
        self.read_connections: ReadConnections | None = None
        if self.is_sqlite:
            database = make_url(self.url).database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            timeout = settings.sqlite_busy_timeout_ms
            pool = settings.database_pool_size
            self.write_engine = _sqlite_engine(
                self.url, timeout, "BEGIN IMMEDIATE", pool, inline=inline
            )
            self.read_engine = _sqlite_engine(self.url, timeout, "BEGIN", pool, inline=inline)
            if inline:
                # As many as the read engine's pool opens (its size and as many overflow).
                self.read_connections = ReadConnections(
                    str(database), sqlite_pragmas(timeout, inline=True), keep=pool, limit=2 * pool
                )
        else:
            # No pre-ping: it costs a round trip on every checkout, of every request. A
            # connection the server dropped (a restart) fails its first statement instead, is
            # discarded by the pool, and the request answers 503 so that the client retries.
            # No overflow: a connection opened past the pool's size for a burst is closed as it
            # comes back while the pool is full, so under a steady load above the pool's size
            # (32 concurrent GETs, pool of 10) a third of the requests opened a connection of
            # their own, a new server process each; a GET's CPU doubled. Waiting for one of
            # the pool's connections costs far less, and no request holds two of them while
            # it waits for another (tests/auth/test_jwt_reads.py and conftest's ``instances``).
            self.write_engine = create_async_engine(
                self.url,
                pool_size=settings.database_pool_size,
                max_overflow=0,
                pool_recycle=3600,
                json_deserializer=loads_json,
            )
            self.read_engine = self.write_engine
        self.write_sessionmaker = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self.read_sessionmaker = async_sessionmaker(self.read_engine, expire_on_commit=False)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        if inline and self._write_lock is not None:
            self.checkpointer = WalCheckpointer(str(make_url(self.url).database), self._write_lock)
        # Inline SQLite sessions close without waiting for anything (see _opened).
        self._closes_without_waiting = inline
        # Keyed by (token hash, workspace id); see core/access_cache.py.
        self.access_cache: AccessCache[tuple[str, str], VerifiedAccess] = AccessCache(
            settings.access_cache_seconds
        )

    @contextlib.asynccontextmanager
    async def write_session(self) -> AsyncIterator[WritableSession]:
        """A unit of work: commits when the block ends, rolls back if it raises."""
        async with self._writer_turn(), self._opened(self.write_sessionmaker) as session:
            try:
                yield WritableSession(ReadOnlySession(session))
                await session.commit()
            except BaseException as error:
                if getattr(error, "commits_transaction", False):
                    await session.commit()
                    self._committed()
                else:
                    await session.rollback()
                raise
            finally:
                # After the commit; also after a rollback or a cancellation, when it costs a
                # few lookups and can never leave a stale entry behind.
                if access_changed(session):
                    self.access_cache.invalidate()
        self._committed()

    def _committed(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.wrote()

    @contextlib.asynccontextmanager
    async def read_session(self) -> AsyncIterator[ReadOnlySession]:
        # Closing ends the transaction without expiring loaded objects, so that they can still
        # be serialized after the session is gone.
        lease = self._read_lease()
        if lease is None:
            async with self._opened(self.read_sessionmaker) as session:
                yield ReadOnlySession(session)
            return
        # RowQueries run on the lease (core/rows.py); the ORM's statements, if any, on the
        # session's connection. A session that never ran one has no transaction to end, and
        # closing it would cost a greenlet's round trip for nothing.
        session = self.read_sessionmaker(info={READ_LEASE: lease})
        try:
            yield ReadOnlySession(session)
        finally:
            # Unless no connection was kept, when there is nothing to end.
            if lease.taken or session.in_transaction():
                if self._closes_without_waiting:
                    await _end_read(lease, session)
                else:
                    # As AsyncSession's own exit: in a shielded task, so that a cancellation
                    # cannot abandon halfway an end that waits for the database.
                    await asyncio.shield(_end_read(lease, session))

    def _read_lease(self) -> ReadLease | None:
        if self.read_connections is not None:
            return SqliteReadLease(self.read_connections)
        if self.is_sqlite:
            # aiosqlite's worker thread: every statement waits for it anyway.
            return None
        return AsyncpgReadLease(self.read_engine)

    @contextlib.asynccontextmanager
    async def _opened(
        self, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> AsyncIterator[AsyncSession]:
        if not self._closes_without_waiting:
            # AsyncSession's own exit closes it in a shielded task of its own, so that a
            # cancellation cannot abandon a close that waits for the database halfway.
            async with sessionmaker() as session:
                yield session
            return
        # Inline SQLite: closing never waits, so nothing can interrupt it, and that task would
        # only cost every request a turn of the event loop, in which the others start. (The
        # one exception: a connection whose rollback failed is discarded, and SQLAlchemy closes
        # it in a shielded task of its own; only a broken sqlite3 connection gets there.)
        session = sessionmaker()
        try:
            yield session
        finally:
            await session.close()

    @contextlib.asynccontextmanager
    async def _writer_turn(self) -> AsyncIterator[None]:
        if self._write_lock is None:
            yield
            return
        if _holding_write_lock.get():
            # The lock is not reentrant: waiting here would wait for ourselves forever.
            raise RuntimeError("a write session was opened inside another one on SQLite")
        async with self._write_lock:
            token = _holding_write_lock.set(True)
            try:
                yield
            finally:
                _holding_write_lock.reset(token)

    async def dispose(self) -> None:
        if self.checkpointer is not None:
            await self.checkpointer.stop()
        await self.write_engine.dispose()
        if self.read_connections is not None:
            self.read_connections.close()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()


async def _end_read(lease: ReadLease, session: AsyncSession) -> None:
    try:
        await lease.release()
    finally:
        if session.in_transaction():
            await session.close()


def after_request(request: Request, callback: Callable[[], Awaitable[None]]) -> None:
    """Run ``callback`` once the request's own transaction has ended (after the response), for
    small writes of their own that must not wait for, or deadlock on, the request's write lock."""
    stack: contextlib.AsyncExitStack = request.scope["fastapi_inner_astack"]
    stack.push_async_callback(callback)


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def _write_session(request: Request) -> AsyncIterator[WritableSession]:
    async with get_database(request).write_session() as session:
        # Idempotency completes its key in this same transaction (core/idempotency.py).
        request.state.write_session = session
        yield session


async def _read_session(request: Request) -> ReadOnlySession:
    # Not a generator dependency, which FastAPI wraps in a cancel scope and two more context
    # managers: ~0.03 ms, 6 % of a GET of a note. A read session has nothing to commit, and
    # its close is shielded where it can wait (see _opened), so it is entered on the exit stack
    # that FastAPI closes as the endpoint returns: as for a function-scoped generator
    # dependency, it ends before the response is sent, and sees the endpoint's exception.
    stack: contextlib.AsyncExitStack = request.scope["fastapi_function_astack"]
    return await stack.enter_async_context(get_database(request).read_session())


# scope="function": the session ends, and commits, before the response is sent, so that a
# failed commit still becomes an error response rather than a lost write behind a 2xx. (The
# generator's cost is nothing beside a write's; FastAPI's shielding of its exit is kept.)
WriteSession = Annotated[WritableSession, Depends(_write_session, scope="function")]
ReadSession = Annotated[ReadOnlySession, Depends(_read_session)]
