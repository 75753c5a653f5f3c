"""RowQuery and RowWrite: the same rows SQLAlchemy's execution gives and stores, on the
session's own transaction."""

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError

from ainotes.auth.service import hash_token
from ainotes.core.config import Settings
from ainotes.core.db import Database, loads_json
from ainotes.core.ids import new_id
from ainotes.core.models import UTCDateTime, _sqlite_utc, table_insert
from ainotes.core.rows import RowQuery, RowWrite
from ainotes.notes.models import Note
from ainotes.notes.repository import NOTE_COLUMNS
from ainotes.tasks.models import Task
from ainotes.workspaces.models import Workspace
from ainotes.workspaces.repository import ACCESS_BY_TOKEN
from tests.factories import Factory

pytestmark = pytest.mark.anyio

_NOTES_CHANGED_AFTER = (
    select(*Note.__table__.c)
    .where(
        Note.workspace_id == bindparam("workspace_id"),
        Note.updated_at > bindparam("after", type_=UTCDateTime()),
    )
    .order_by(Note.id)
)


class TestRows:
    async def test_match_what_sqlalchemy_executes(
        self, database: Database, factory: Factory
    ) -> None:
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        await factory.note(workspace, owner, tags=["a", "b"], pinned=True)
        await factory.note(workspace, owner, body="")
        parameters = {
            "workspace_id": workspace["id"],
            "after": datetime.now(UTC) - timedelta(hours=1),
        }

        async with database.read_session() as session:
            rows = await RowQuery(_NOTES_CHANGED_AFTER).all(session, parameters)
            expected = (await session.execute(_NOTES_CHANGED_AFTER, parameters)).mappings().all()

        assert len(rows) == 2
        assert rows == [dict(row) for row in expected]
        first = rows[0]
        assert first["tags"] == ["a", "b"]
        assert first["pinned"] is True
        assert first["created_at"].tzinfo is UTC

    async def test_a_limit_parameter_works_where_the_dialect_adds_one_of_its_own(
        self, database: Database, factory: Factory
    ) -> None:
        """SQLite renders ``LIMIT ? OFFSET ?`` and binds the offset itself."""
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        for _ in range(3):
            await factory.note(workspace, owner)
        statement = _NOTES_CHANGED_AFTER.limit(bindparam("rows", type_=Integer))
        parameters = {
            "workspace_id": workspace["id"],
            "after": datetime.now(UTC) - timedelta(hours=1),
            "rows": 2,
        }
        async with database.read_session() as session:
            rows = await RowQuery(statement).all(session, parameters)
            expected = (await session.execute(statement, parameters)).mappings().all()
        assert len(rows) == 2
        assert rows == [dict(row) for row in expected]

    async def test_datetime_parameters_are_converted_as_sqlalchemy_binds_them(
        self, database: Database, factory: Factory
    ) -> None:
        """In another offset, an instant just before the note's change is still before it:
        compared as text without conversion, "+05:00" local time would sort after it."""
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        note = await factory.note(workspace, owner)
        changed = datetime.fromisoformat(note["updated_at"])
        query = RowQuery(_NOTES_CHANGED_AFTER)
        five_east = timezone(timedelta(hours=5))

        async with database.read_session() as session:
            for after, found in [
                (changed - timedelta(seconds=1), 1),
                (changed, 0),
                (changed + timedelta(seconds=1), 0),
            ]:
                parameters = {"workspace_id": workspace["id"], "after": after.astimezone(five_east)}
                assert len(await query.all(session, parameters)) == found, after

    async def test_the_application_queries_match_sqlalchemy(
        self, database: Database, factory: Factory
    ) -> None:
        """The token check (labelled columns, a role that is NULL for non-members) and GET of
        a note."""
        owner, stranger = await factory.user(), await factory.user()
        workspace = await factory.workspace(owner)
        note = await factory.note(workspace, owner, tags=["x"])
        asking = {"workspace_id": workspace["id"]}
        cases: list[tuple[RowQuery, dict[str, Any]]] = [
            (ACCESS_BY_TOKEN, {**asking, "token_hash": hash_token(owner.token)}),
            (ACCESS_BY_TOKEN, {**asking, "token_hash": hash_token(stranger.token)}),
            (NOTE_COLUMNS, {**asking, "note_id": note["id"]}),
        ]
        found = []
        async with database.read_session() as session:
            for query, parameters in cases:
                rows = await query.all(session, parameters)
                expected = await session.execute(query.statement, parameters)
                assert rows == [dict(row) for row in expected.mappings()]
                assert len(rows) == 1
                found.append(rows[0])
        assert [found[0]["role"], found[1]["role"]] == ["owner", None]
        assert found[2]["tags"] == ["x"]

    async def test_driver_errors_come_out_as_sqlalchemys(self, database: Database) -> None:
        missing = Table("no_such_table", MetaData(), Column("id", String))
        query = RowQuery(select(missing.c.id).where(missing.c.id == bindparam("id")))
        async with database.read_session() as session:
            with pytest.raises(DBAPIError, match="no_such_table"):
                await query.all(session, {"id": "x"})

    async def test_run_in_the_sessions_own_transaction(self, database: Database) -> None:
        query = RowQuery(select(Workspace.name).where(Workspace.id == bindparam("id")))
        async with database.write_session() as session:
            workspace = Workspace(name="not yet committed", created_by="someone")
            session.add(workspace)
            await session.flush()
            assert await query.first(session, {"id": workspace.id}) == {"name": "not yet committed"}
            await session.rollback()

        async with database.read_session() as session:
            assert await query.first(session, {"id": workspace.id}) is None

    async def test_also_run_through_aiosqlites_worker_thread(
        self, settings: Settings, factory: Factory
    ) -> None:
        """With AINOTES_SQLITE_INLINE=false the driver is aiosqlite's (on PostgreSQL the
        setting changes nothing)."""
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        await factory.note(workspace, owner)
        parameters = {"workspace_id": workspace["id"], "after": datetime(2000, 1, 1, tzinfo=UTC)}
        database = Database(settings.model_copy(update={"sqlite_inline": False}))
        try:
            async with database.read_session() as session:
                rows = await RowQuery(_NOTES_CHANGED_AFTER).all(session, parameters)
                expected = await session.execute(_NOTES_CHANGED_AFTER, parameters)
                assert rows == [dict(row) for row in expected.mappings()]
                assert len(rows) == 1
        finally:
            await database.dispose()

    async def test_refuse_statements_they_cannot_run_as_they_are(self, database: Database) -> None:
        same_keys = RowQuery(select(Note.id, Workspace.id).join(Workspace))
        expanding = RowQuery(select(Note.id).where(Note.id.in_(bindparam("ids", expanding=True))))
        valued = RowQuery(select(Note.id).where(Note.id == "x"))
        async with database.read_session() as session:
            with pytest.raises(ValueError, match="label them"):
                await same_keys.all(session, {})
            with pytest.raises(ValueError, match="IN lists"):
                await expanding.all(session, {"ids": ["x"]})
            with pytest.raises(ValueError, match="without values"):
                await valued.all(session, {})


def _task_rows(workspace_id: str, note_id: str, count: int) -> list[dict[str, Any]]:
    berlin = timezone(timedelta(hours=1))
    return [
        {
            "workspace_id": workspace_id,
            "id": new_id(),
            "note_id": note_id,
            "note_version": 1,
            "is_note_trashed": line % 2 == 0,
            "line": line,
            "level": 0,
            "parent_id": None,
            "text": f"task {line} ✓",
            "status": "open",
            "due_on": date(2026, 12, line + 1) if line else None,
            "due_rank": line,
            "tags": ["exam", f"t{line}"],
            "assignees": [],
            "created_at": datetime(2026, 11, 26, 12, line, tzinfo=berlin),
            "updated_at": datetime(2026, 11, 26, 12, line, 30, 5, tzinfo=UTC),
        }
        for line in range(count)
    ]


class TestRowWrite:
    async def test_stores_what_sqlalchemys_executemany_stores(
        self, database: Database, factory: Factory
    ) -> None:
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        note = await factory.note(workspace, owner)
        ours = _task_rows(workspace["id"], note["id"], 3)
        theirs = [{**row, "id": new_id()} for row in ours]

        async with database.write_session() as session:
            await RowWrite(table_insert(Task)).run(session, ours)
            await session.execute(table_insert(Task), theirs)

        columns = select(*Task.__table__.c).where(Task.id == bindparam("id"))
        async with database.read_session() as session:
            for mine, sqlalchemys in zip(ours, theirs, strict=True):
                stored = (await session.execute(columns, {"id": mine["id"]})).mappings().one()
                expected = (
                    (await session.execute(columns, {"id": sqlalchemys["id"]})).mappings().one()
                )
                assert {**stored, "id": None} == {**expected, "id": None}
                assert stored["created_at"] == mine["created_at"]
                assert stored["tags"] == mine["tags"]

    async def test_pending_objects_are_flushed_first(
        self, database: Database, factory: Factory
    ) -> None:
        """As session.execute autoflushes: a task row needs its note in the database."""
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        async with database.write_session() as session:
            note = Note(
                workspace_id=workspace["id"],
                id=new_id(),
                title="pending",
                body="",
                tags=[],
                created_by=owner.user_id,
                updated_by=owner.user_id,
            )
            session.add(note)
            await RowWrite(table_insert(Task)).run(session, _task_rows(workspace["id"], note.id, 1))
        async with database.read_session() as session:
            found = await session.execute(select(Task.id).where(Task.note_id == note.id))
            assert len(found.all()) == 1

    async def test_driver_errors_come_out_as_sqlalchemys(
        self, database: Database, factory: Factory
    ) -> None:
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        note = await factory.note(workspace, owner)
        [row] = _task_rows(workspace["id"], note["id"], 1)
        with pytest.raises(IntegrityError):
            async with database.write_session() as session:
                await RowWrite(table_insert(Task)).run(session, [row, row])

    async def test_updates_and_deletes_run_once_per_row(
        self, database: Database, factory: Factory
    ) -> None:
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        note = await factory.note(workspace, owner)
        rows = _task_rows(workspace["id"], note["id"], 4)
        tasks = Task.__table__
        by_id = (tasks.c.workspace_id == bindparam("workspace_id")) & (
            tasks.c.id == bindparam("id")
        )
        rename = RowWrite(update(tasks).where(by_id).values(text=bindparam("new_text")))
        remove = RowWrite(delete(tasks).where(by_id))
        async with database.write_session() as session:
            await RowWrite(table_insert(Task)).run(session, rows)
            await rename.run(
                session,
                [
                    {"workspace_id": workspace["id"], "id": row["id"], "new_text": f"renamed {n}"}
                    for n, row in enumerate(rows[:2])
                ],
            )
            await remove.run(session, [{"workspace_id": workspace["id"], "id": rows[3]["id"]}])
            # Another workspace's id names nothing here.
            await remove.run(session, [{"workspace_id": new_id(), "id": rows[2]["id"]}])

        async with database.read_session() as session:
            stored = await session.execute(
                select(Task.id, Task.text).where(Task.note_id == note["id"]).order_by(Task.id)
            )
            assert dict(stored.all()) == {
                rows[0]["id"]: "renamed 0",
                rows[1]["id"]: "renamed 1",
                rows[2]["id"]: rows[2]["text"],
            }

    async def test_no_rows_run_nothing(self, database: Database) -> None:
        statement = RowWrite(table_insert(Task))
        async with database.write_session() as session:
            await statement.run(session, [])
        assert statement._compiled == {}


@pytest.mark.parametrize(
    ("stored", "read"),
    [
        ("2026-01-31 12:00:00.000001", datetime(2026, 1, 31, 12, 0, 0, 1, tzinfo=UTC)),
        ("2026-01-31 12:00:00", datetime(2026, 1, 31, 12, tzinfo=UTC)),
        ("2026-01-31T12:00:00+02:00", datetime(2026, 1, 31, 10, tzinfo=UTC)),
        # As long as SQLAlchemy's own format, with an offset.
        ("2026-01-31 12:00:00.12345Z", datetime(2026, 1, 31, 12, 0, 0, 123450, tzinfo=UTC)),
        ("2026-01-31 12:00:00.1+0100", datetime(2026, 1, 31, 11, 0, 0, 100000, tzinfo=UTC)),
        (None, None),
    ],
)
def test_sqlite_datetimes_are_read_as_utc(stored: str | None, read: datetime | None) -> None:
    parsed = _sqlite_utc(stored)
    assert parsed == read
    if parsed is not None:
        assert parsed.tzinfo is UTC


def _task_row(workspace_id: str, note_id: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "workspace_id": workspace_id,
        "id": new_id(),
        "note_id": note_id,
        "note_version": 1,
        "is_note_trashed": False,
        "line": 0,
        "level": 0,
        "parent_id": None,
        "text": "task",
        "status": "open",
        "due_on": None,
        "due_rank": 7,
        "tags": ["kept"],
        "assignees": ["alice"],
        "created_at": now,
        "updated_at": now,
    }


class TestRowWriteFixedParameters:
    """Parameters with values of their own are the dialect's, on a SELECT only (SQLite's
    OFFSET 0): an INSERT's compiler adds one for each column the statement leaves out."""

    async def test_a_value_put_in_the_statement_by_its_author_is_still_refused(
        self, database: Database, factory: Factory
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        note = await factory.note(workspace, owner)
        table = Task.__table__
        values: dict[str, Any] = {c.key: bindparam(c.key) for c in table.c}
        values["due_rank"] = 5  # the author's own value
        row = _task_row(workspace["id"], note["id"])
        with pytest.raises(ValueError, match="without values"):
            async with database.write_session() as session:
                await RowWrite(insert(table).values(values)).run(session, [row])

    async def test_columns_the_statement_leaves_out_do_not_silently_become_null(
        self, database: Database, factory: Factory
    ):
        """The compiler's parameter for ``assignees`` (which has a Python-side default) must
        not override the value the row gives, as SQLAlchemy's executemany stores it."""
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        note = await factory.note(workspace, owner)
        table = Task.__table__
        statement = insert(table).values(
            {c.key: bindparam(c.key) for c in table.c if c.key != "assignees"}
        )
        row = _task_row(workspace["id"], note["id"])
        try:
            async with database.write_session() as session:
                await RowWrite(statement).run(session, [row])
        except ValueError:
            return  # refused, as before: fine
        async with database.read_session() as session:
            stored = (
                await session.execute(select(Task.assignees).where(Task.id == row["id"]))
            ).scalar_one()
        assert stored == row["assignees"]


@pytest.mark.parametrize(
    "stored",
    [
        "[]",
        '["exam", "physics", "week-3"]',
        '{"a": [1, 2.5, null, true], "b": {"c": "ü\\u00e9"}}',
        "123456789012345678901234567890",
        " [1]",
        "[1]\n",
        '"text"',
    ],
)
def test_json_columns_read_as_json_loads_reads_them(stored: str) -> None:
    assert loads_json(stored) == json.loads(stored)
    assert type(loads_json(stored)) is type(json.loads(stored))


@pytest.mark.parametrize("stored", ["", "[1] x", "[1", "nope"])
def test_json_that_json_loads_refuses_is_refused(stored: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        loads_json(stored)
