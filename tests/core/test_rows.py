"""RowQuery: the same rows SQLAlchemy's execution gives, on the session's own transaction."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import bindparam, select

from ainotes.core.db import Database
from ainotes.core.models import UTCDateTime, _sqlite_utc
from ainotes.core.rows import RowQuery
from ainotes.notes.models import Note
from ainotes.workspaces.models import Workspace
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

    async def test_datetime_parameters_are_converted_as_sqlalchemy_binds_them(
        self, database: Database, factory: Factory
    ) -> None:
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        await factory.note(workspace, owner)
        query = RowQuery(_NOTES_CHANGED_AFTER)

        async with database.read_session() as session:
            later = {"workspace_id": workspace["id"], "after": datetime.now(UTC)}
            earlier = {**later, "after": datetime.now(UTC) - timedelta(minutes=5)}
            assert await query.all(session, later) == []
            assert len(await query.all(session, earlier)) == 1

    async def test_run_in_the_sessions_own_transaction(self, database: Database) -> None:
        query = RowQuery(select(Workspace.name).where(Workspace.id == bindparam("id")))
        async with database.write_session() as session:
            workspace = Workspace(name="not yet committed", created_by="someone")
            session.add(workspace)
            await session.flush()
            assert await query.first(session, {"id": workspace.id}) == {
                "name": "not yet committed"
            }
            await session.rollback()

        async with database.read_session() as session:
            assert await query.first(session, {"id": workspace.id}) is None

    async def test_refuse_statements_they_cannot_run_as_they_are(
        self, database: Database
    ) -> None:
        same_keys = RowQuery(select(Note.id, Workspace.id).join(Workspace))
        expanding = RowQuery(select(Note.id).where(Note.id.in_(bindparam("ids", expanding=True))))
        async with database.read_session() as session:
            with pytest.raises(ValueError, match="label them"):
                await same_keys.all(session, {})
            with pytest.raises(ValueError, match="IN lists"):
                await expanding.all(session, {"ids": ["x"]})


@pytest.mark.parametrize(
    ("stored", "read"),
    [
        ("2026-01-31 12:00:00.000001", datetime(2026, 1, 31, 12, 0, 0, 1, tzinfo=UTC)),
        ("2026-01-31 12:00:00", datetime(2026, 1, 31, 12, tzinfo=UTC)),
        ("2026-01-31T12:00:00+02:00", datetime(2026, 1, 31, 10, tzinfo=UTC)),
        (None, None),
    ],
)
def test_sqlite_datetimes_are_read_as_utc(stored: str | None, read: datetime | None) -> None:
    parsed = _sqlite_utc(stored)
    assert parsed == read
    if parsed is not None:
        assert parsed.tzinfo is UTC
