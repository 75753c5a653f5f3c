"""``RowQuery``: a fixed Core SELECT run straight on the session's driver connection; and
``RowWrite``: a fixed INSERT, UPDATE or DELETE for many rows, its parameters converted here.

For the few statements on the path of nearly every request (the token and membership check,
a note by id). Around each statement SQLAlchemy's execution machinery costs ~0.1 ms of CPU,
through the ORM session ~0.2 ms, against ~0.02 ms for SQLite to answer a primary-key read:
more than everything else a request does. A RowQuery compiles its statement once per dialect
with SQLAlchemy's own compiler, converts parameters and columns with the types' own bind and
result processors, and hands the SQL to the driver itself (sqlite3 on the event loop's thread,
or asyncpg). It runs on the session's connection: inside the request's transaction on SQLite
(the session's BEGIN opens it), and on PostgreSQL once SQLAlchemy has begun one there, which it
does lazily at its own first statement; a RowQuery ahead of that runs as a statement of its
own, which under READ COMMITTED sees what it would have seen inside.

Only statements of a fixed shape qualify: every parameter a named ``bindparam`` without a
value, no expanding IN lists, nothing built per call. A RowQuery does not autoflush: it reads
what the database holds, so it belongs before a write session has pending changes (the access
check) or in read sessions.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Delete, Insert, Select, Update
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.sql import visitors
from sqlalchemy.sql.compiler import SQLCompiler

from ainotes.core.db import READ_LEASE, ReadLease, ReadOnlySession

_Processor = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    keys: tuple[str, ...]
    # Parameter names in the order of the statement's placeholders, with their processors.
    parameters: tuple[tuple[str, _Processor | None], ...]
    # (position, processor) of the columns that need converting.
    columns: tuple[tuple[int, _Processor], ...]
    # Values of the parameters the statement fixes itself (SQLite's OFFSET 0 after a LIMIT).
    fixed: Mapping[str, Any]

    def values(self, parameters: Mapping[str, Any]) -> list[Any]:
        if self.fixed:
            parameters = {**parameters, **self.fixed}
        return [
            parameters[name] if process is None else process(parameters[name])
            for name, process in self.parameters
        ]

    def convert(self, row: Sequence[Any]) -> dict[str, Any]:
        converted = list(row)
        for position, process in self.columns:
            converted[position] = process(converted[position])
        return dict(zip(self.keys, converted, strict=True))


class RowQuery:
    def __init__(self, statement: Select[*tuple[Any, ...]]) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    async def all(
        self, session: ReadOnlySession, parameters: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        """The rows, each a dict of the selected columns' keys (label them to tell apart)."""
        lease: ReadLease | None = session.info.get(READ_LEASE)
        if lease is not None and (lease.taken or not session.in_transaction()):
            compiled = self._compiled_for(session.get_bind().dialect)
            values = compiled.values(parameters)
            try:
                rows = await lease.fetch(compiled.sql, values)
            except PoolTimeout:
                raise  # the pool is exhausted: waiting for it twice helps nobody
            except Exception:  # whatever the driver raised (asyncpg's errors have no one
                # base), or no connection to lease (sqlite_inline.LeasesExhausted)
                await lease.release()
                return await self._run_by_sqlalchemy(session, parameters)
            return [compiled.convert(row) for row in rows]
        connection = await session.connection()
        compiled = self._compiled_for(connection.dialect)
        driver = (await connection.get_raw_connection()).driver_connection
        values = compiled.values(parameters)
        try:
            if connection.dialect.name == "sqlite":
                # sqlite_inline.InlineConnection, or aiosqlite's connection, which has the same.
                rows = await driver.execute_fetchall(compiled.sql, values)  # type: ignore[union-attr]
            else:
                rows = await driver.fetch(compiled.sql, *values)  # type: ignore[union-attr]
        except Exception:  # whatever the driver raised: asyncpg's errors have no one base
            return await self._run_by_sqlalchemy(session, parameters)
        return [compiled.convert(row) for row in rows]

    async def _run_by_sqlalchemy(
        self, session: ReadOnlySession, parameters: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        """The statement run the ordinary way, on the session's connection, after the driver
        failed: the driver's own errors are not SQLAlchemy's DBAPIError, which the error
        handlers know. It answers if the trouble has passed, and otherwise fails as every other
        statement does, wrapped (a busy database, a dropped connection: retryable 503s), with a
        connection the server dropped invalidated so that the pool does not hand it out again."""
        result = await session.execute(self.statement, parameters)
        return [dict(row) for row in result.mappings()]

    async def first(
        self, session: ReadOnlySession, parameters: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        rows = await self.all(session, parameters)
        return rows[0] if rows else None

    def _compiled_for(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = _compile(self.statement, dialect)
        return compiled


class RowWrite:
    """A fixed INSERT (or INSERT … ON CONFLICT), UPDATE or DELETE run once per row of
    parameters: derived rows of a note write (its tasks, their labels, its links, their search
    documents), twenty of each and more for a note with twenty tasks and links; the links
    re-pointed when a title appears or goes.

    Given a list of dicts, SQLAlchemy prepares each parameter set through the statement's
    compiled form in Python, several µs a row (a note with 20 tasks and 20 links has 81 such
    rows: ~0.5 ms of its 7-8 ms of CPU), and an ORM-enabled UPDATE builds and looks up its
    statement on every call. A RowWrite compiles once per dialect, converts each row with the
    types' own bind processors into a tuple in placeholder order, and runs the tuples as one
    executemany through ``exec_driver_sql``: still SQLAlchemy's connection, so its errors are
    wrapped, and a dropped connection invalidated, as for any statement. Each row gives every
    parameter the statement names (an INSERT's: every column it names); the table's column
    defaults are not applied."""

    def __init__(self, statement: Insert | Update | Delete) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    async def run(self, session: ReadOnlySession, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        # As session.execute would, so that rows these reference are in the database first.
        await session.flush()
        connection = await session.connection()
        compiled = self._compiled.get(connection.dialect.name)
        if compiled is None:
            compiler = self.statement.compile(dialect=connection.dialect)
            parameters = _parameters(compiler, connection.dialect, "RowWrite", {})
            compiled = _Compiled(compiler.string, (), parameters, (), {})
            self._compiled[connection.dialect.name] = compiled
        await connection.exec_driver_sql(
            compiled.sql, [tuple(compiled.values(row)) for row in rows]
        )


def _parameters(
    compiler: SQLCompiler, dialect: Dialect, kind: str, fixed: Mapping[str, Any]
) -> tuple[tuple[str, _Processor | None], ...]:
    """The statement's parameter names in placeholder order, with their bind processors.
    ``fixed`` names the parameters with values of their own that are allowed."""
    if compiler.positiontup is None:
        raise ValueError(f"{dialect.name} does not use positional parameters")
    binds = compiler.binds
    if any(bind.expanding for bind in binds.values()):
        raise ValueError(f"a {kind} cannot expand IN lists")
    if any(not bind.required and name not in fixed for name, bind in binds.items()):
        raise ValueError(f"a {kind} takes named bindparams without values only")
    return tuple(
        (name, binds[name].type.dialect_impl(dialect).bind_processor(dialect))
        for name in compiler.positiontup
    )


def _fixed(compiler: SQLCompiler) -> dict[str, Any]:
    """Parameters the compiler added to a SELECT that are not in the statement, with their
    values: SQLite renders ``OFFSET ?`` with 0 after every ``LIMIT``. (Not for an INSERT, whose
    compiler adds a parameter, valueless, for each column the statement leaves out.)"""
    own = {id(element) for element in visitors.iterate(compiler.statement)}
    return {
        name: bind.value
        for name, bind in compiler.binds.items()
        if not bind.required and id(bind) not in own
    }


def _compile(statement: Select[*tuple[Any, ...]], dialect: Dialect) -> _Compiled:
    compiler = statement.compile(dialect=dialect)
    fixed = _fixed(compiler)
    parameters = _parameters(compiler, dialect, "RowQuery", fixed)
    keys = tuple(str(column.key) for column in statement.selected_columns)
    if len(set(keys)) != len(keys):
        raise ValueError(f"columns of the same key: label them ({', '.join(keys)})")
    columns = []
    for position, column in enumerate(statement.selected_columns):
        process = column.type.dialect_impl(dialect).result_processor(dialect, None)
        if process is not None:
            columns.append((position, process))
    return _Compiled(compiler.string, keys, parameters, tuple(columns), fixed)
