"""Rules of the notes service that are hard to see over HTTP: derived rows, ties, tenancy."""

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select, update

from ainotes.core.db import Database
from ainotes.core.principal import Principal, PrincipalKind
from ainotes.notes import service as notes_service
from ainotes.notes.errors import NoteNotFound, RevisionNotFound
from ainotes.notes.models import Note, NoteRevision, NoteTag
from ainotes.notes.schemas import NoteFilters, NoteSort, NoteUpdate, SortOrder
from ainotes.workspaces import service as workspaces_service
from ainotes.workspaces.models import Role
from ainotes.workspaces.service import WorkspaceAccess
from tests.factories import Actor
from tests.notes.support import Space, make_space

pytestmark = pytest.mark.anyio

LIMITS = notes_service.NoteLimits(max_body_chars=100_000)


async def _access(database: Database, actor: Actor, workspace: dict[str, Any]) -> WorkspaceAccess:
    principal = Principal(PrincipalKind.USER, actor.user_id, actor.username)
    async with database.read_session() as session:
        return await workspaces_service.get_access(session, principal, workspace["id"], Role.EDITOR)


async def _count(database: Database, model: Any, note_id: str) -> int:
    async with database.read_session() as session:
        statement = select(func.count()).select_from(model).where(model.note_id == note_id)
        return int((await session.execute(statement)).scalar_one())


class TestUpdate:
    async def test_unchanged_fields_make_no_version_and_no_revision(
        self, space: Space, database: Database
    ) -> None:
        note = await space.make_note(title="Same", tags=["a"])
        access = await _access(database, space.owner, space.workspace)

        async with database.write_session() as session:
            result = await notes_service.update(
                session,
                access,
                note["id"],
                NoteUpdate(title="Same", tags=["#A"], body=None),
                expected_version=1,
                limits=LIMITS,
            )

        assert result.version == 1
        assert await _count(database, NoteRevision, note["id"]) == 1

    async def test_tag_rows_follow_the_note_tags(self, space: Space, database: Database) -> None:
        note = await space.make_note(tags=["one", "two"])
        access = await _access(database, space.owner, space.workspace)

        async with database.write_session() as session:
            await notes_service.update(
                session, access, note["id"], NoteUpdate(tags=["three"]), None, LIMITS
            )

        async with database.read_session() as session:
            rows = await session.execute(select(NoteTag.tag).where(NoteTag.note_id == note["id"]))
            assert [row[0] for row in rows] == ["three"]


class TestPurge:
    async def test_removes_revisions_and_tag_rows(self, space: Space, database: Database) -> None:
        note = await space.make_note(tags=["gone"])
        access = await _access(database, space.owner, space.workspace)
        async with database.write_session() as session:
            await notes_service.trash(session, access, note["id"], None)

        async with database.write_session() as session:
            await notes_service.purge(session, access, note["id"], 2)

        assert await _count(database, NoteRevision, note["id"]) == 0
        assert await _count(database, NoteTag, note["id"]) == 0


class TestListNotes:
    @pytest.mark.parametrize("order", list(SortOrder))
    async def test_pages_through_notes_with_equal_timestamps_by_id(
        self, space: Space, database: Database, order: SortOrder
    ) -> None:
        ids = sorted([(await space.make_note())["id"] for _ in range(4)])
        access = await _access(database, space.owner, space.workspace)
        instant = datetime.fromisoformat(space.workspace["created_at"])
        async with database.write_session() as session:
            # The same instant for every note, so that only the id orders them.
            await session.execute(
                update(Note)
                .where(Note.workspace_id == access.workspace_id)
                .values(updated_at=instant)
                .execution_options(synchronize_session=False)
            )

        seen: list[str] = []
        cursor = None
        while True:
            async with database.read_session() as session:
                items, cursor = await notes_service.list_notes(
                    session, access, NoteFilters(), NoteSort.UPDATED_AT, order, cursor, 1
                )
            seen.extend(note["id"] for note in items)
            if cursor is None:
                break

        assert seen == (ids if order is SortOrder.ASC else ids[::-1])


class TestTenancy:
    async def test_note_of_another_workspace_is_not_found(
        self, space: Space, database: Database
    ) -> None:
        other = await make_space(space.factory)
        foreign = await other.make_note()
        access = await _access(database, space.owner, space.workspace)

        async with database.read_session() as session:
            with pytest.raises(NoteNotFound):
                await notes_service.get(session, access, foreign["id"])
            with pytest.raises(NoteNotFound):
                await notes_service.get_revision(session, access, foreign["id"], 1)

    async def test_version_the_note_never_had_is_not_found(
        self, space: Space, database: Database
    ) -> None:
        short = await space.make_note()
        access = await _access(database, space.owner, space.workspace)

        async with database.read_session() as session:
            with pytest.raises(RevisionNotFound):
                await notes_service.get_revision(session, access, short["id"], 2)
