"""Queries on links and title keys; every statement is bound to one workspace.

Listings join the ``notes`` table read-only, for the title and trash state of the note at the
other end of a link.
"""

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import Row, Select, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute

from ainotes.core.models import table_insert
from ainotes.core.pagination import Ordering, paginate
from ainotes.core.repository import WorkspaceRepository
from ainotes.core.rows import RowWrite
from ainotes.notes.models import Note
from ainotes.relationships.models import BODY, MANUAL, NoteTitleKey, Relationship

_INSERT_RELATIONSHIPS = RowWrite(table_insert(Relationship))
# The oldest live note with the link's title key, or nothing.
_WINNER = (
    select(func.min(NoteTitleKey.note_id))
    .where(
        NoteTitleKey.workspace_id == Relationship.workspace_id,
        NoteTitleKey.title_key == Relationship.target_title_key,
    )
    .scalar_subquery()
)
_RERESOLVE = RowWrite(
    update(Relationship)
    .where(
        Relationship.workspace_id == bindparam("workspace_id"),
        Relationship.source == bindparam("source"),
        Relationship.target_title_key == bindparam("key"),
    )
    .values(target_note_id=_WINNER)
)

# Statements of every note write, built once: per call, building and keying one cost about
# what running it costs.
_BODY_LINKS_OF = (
    select(Relationship)
    .where(
        Relationship.workspace_id == bindparam("workspace_id"),
        Relationship.source_note_id == bindparam("note_id"),
        Relationship.source == bindparam("source"),
    )
    # Resolution is updated in bulk statements; never trust a stale identity map.
    .execution_options(populate_existing=True)
)
_THE_NOTES_KEY = (NoteTitleKey.workspace_id == bindparam("workspace_id")) & (
    NoteTitleKey.note_id == bindparam("note_id")
)
_TITLE_KEY_OF = select(NoteTitleKey.title_key).where(_THE_NOTES_KEY)
# A title key is a row, not an entity: written on every note create and rename.
_INSERT_TITLE_KEY = RowWrite(table_insert(NoteTitleKey))
_CHANGE_TITLE_KEY = RowWrite(
    update(NoteTitleKey).where(_THE_NOTES_KEY).values(title_key=bindparam("title_key"))
)
_DELETE_TITLE_KEY = RowWrite(delete(NoteTitleKey).where(_THE_NOTES_KEY))
_RESOLVE = (
    select(NoteTitleKey.title_key, func.min(NoteTitleKey.note_id))
    .where(
        NoteTitleKey.workspace_id == bindparam("workspace_id"),
        NoteTitleKey.title_key.in_(bindparam("keys", expanding=True)),
    )
    .group_by(NoteTitleKey.title_key)
)

# ULIDs sort by creation time, so the id alone is a stable, meaningful order.
BY_ID = Ordering("id", Relationship.id, Relationship.id, descending=False)

EdgeRow = Row[str, str, str, str, str]


class RelationshipRepository(WorkspaceRepository[Relationship]):
    model = Relationship

    def _note_joined(self, note_column: InstrumentedAttribute[str]) -> Select[Relationship, Note]:
        return (
            select(Relationship, Note)
            .join(
                Note,
                and_(Note.workspace_id == Relationship.workspace_id, Note.id == note_column),
            )
            .where(Relationship.workspace_id == self.workspace_id)
        )

    async def body_links_of(self, note_id: str) -> Sequence[Relationship]:
        parameters = {"workspace_id": self.workspace_id, "note_id": note_id, "source": BODY}
        return (await self.session.execute(_BODY_LINKS_OF, parameters)).scalars().all()

    async def get_for_update(self, relationship_id: str) -> Relationship | None:
        # A concurrent delete of the same row then waits, and finds it gone instead of deleting
        # nothing (SQLite writers already hold the database lock).
        statement = self.select().where(Relationship.id == relationship_id).with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def hold_notes(self, note_ids: Collection[str]) -> None:
        """Share-lock these notes until the transaction ends, in id order (so that two holders
        cannot deadlock): a concurrent trash or purge waits, rather than changing a note between
        the caller's check of it and its insert of a row referring to it. SQLite has no row
        locks and needs none: its writers already hold the database lock."""
        statement = (
            select(Note.id)
            .where(Note.workspace_id == self.workspace_id, Note.id.in_(note_ids))
            .order_by(Note.id)
            .with_for_update(read=True)
        )
        await self.session.execute(statement)

    async def find_manual(self, source_note_id: str, target_note_id: str, type_: str) -> str | None:
        statement = select(Relationship.id).where(
            Relationship.workspace_id == self.workspace_id,
            Relationship.source == MANUAL,
            Relationship.source_note_id == source_note_id,
            Relationship.target_note_id == target_note_id,
            Relationship.type == type_,
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    def add(self, relationship: Relationship) -> None:
        self.session.add(relationship)

    async def insert_rows(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert relationship rows (every column) in one executemany."""
        await _INSERT_RELATIONSHIPS.run(self.session, rows)

    async def delete(self, relationship: Relationship) -> None:
        await self.session.delete(relationship)

    async def delete_ids(self, ids: Collection[str]) -> None:
        if ids:
            await self.session.execute(
                delete(Relationship).where(
                    Relationship.workspace_id == self.workspace_id, Relationship.id.in_(ids)
                )
            )

    async def delete_for_purged_note(self, note_id: str) -> None:
        """Its own links, and relations made to it by id; body links that name it by title
        stay (unresolved), because the text that wrote them is still there."""
        await self.session.execute(
            delete(Relationship).where(
                Relationship.workspace_id == self.workspace_id,
                or_(
                    Relationship.source_note_id == note_id,
                    and_(Relationship.target_note_id == note_id, Relationship.source == MANUAL),
                ),
            )
        )

    async def reresolve(self, keys: Collection[str]) -> None:
        """Point every body link naming one of ``keys`` at the oldest live note with that title
        key, or at nothing: one statement per key, whatever happened to the titles.

        In sorted order: two writers re-pointing the same two keys (titles swapped at once)
        lock the links in the same order, where a set's order, which varies with each
        process's hash seed, let them deadlock on PostgreSQL."""
        await _RERESOLVE.run(
            self.session,
            [
                {"workspace_id": self.workspace_id, "source": BODY, "key": key}
                for key in sorted(keys)
            ],
        )

    async def outgoing(
        self, note_id: str, cursor: str | None, limit: int
    ) -> Sequence[Row[Relationship, Note | None]]:
        """Links from the note, with their target; targets in the trash are left out."""
        statement = (
            select(Relationship, Note)
            .outerjoin(
                Note,
                and_(
                    Note.workspace_id == Relationship.workspace_id,
                    Note.id == Relationship.target_note_id,
                ),
            )
            .where(
                Relationship.workspace_id == self.workspace_id,
                Relationship.source_note_id == note_id,
                or_(Relationship.target_note_id.is_(None), Note.trashed_at.is_(None)),
            )
        )
        rows = await self.session.execute(paginate(statement, BY_ID, cursor, limit))
        return rows.all()

    async def incoming(
        self, note_id: str, cursor: str | None, limit: int
    ) -> Sequence[Row[Relationship, Note]]:
        """Links to the note, with their source; sources in the trash are left out."""
        statement = self._note_joined(Relationship.source_note_id).where(
            Relationship.target_note_id == note_id, Note.trashed_at.is_(None)
        )
        rows = await self.session.execute(paginate(statement, BY_ID, cursor, limit))
        return rows.all()

    async def page(
        self,
        note_id: str | None,
        type_: str | None,
        source: str | None,
        cursor: str | None,
        limit: int,
    ) -> Sequence[Relationship]:
        statement = self.select()
        if note_id is not None:
            statement = statement.where(
                or_(Relationship.source_note_id == note_id, Relationship.target_note_id == note_id)
            )
        if type_ is not None:
            statement = statement.where(Relationship.type == type_)
        if source is not None:
            statement = statement.where(Relationship.source == source)
        rows = await self.session.execute(paginate(statement, BY_ID, cursor, limit))
        return rows.scalars().all()

    async def edges_touching(self, note_ids: Collection[str], limit: int) -> Sequence[EdgeRow]:
        """Resolved links with either end in ``note_ids``, oldest first, at most ``limit``."""
        statement = (
            select(
                Relationship.id,
                Relationship.source_note_id,
                Relationship.target_note_id,
                Relationship.type,
                Relationship.source,
            )
            .where(
                Relationship.workspace_id == self.workspace_id,
                Relationship.target_note_id.is_not(None),
                or_(
                    Relationship.source_note_id.in_(note_ids),
                    Relationship.target_note_id.in_(note_ids),
                ),
            )
            .order_by(Relationship.id)
            .limit(limit)
        )
        rows: Sequence[EdgeRow] = (await self.session.execute(statement)).all()  # type: ignore[assignment]
        return rows

    async def live_titles(self, note_ids: Collection[str]) -> dict[str, str]:
        """Titles of those of ``note_ids`` that exist here and are not in the trash."""
        if not note_ids:
            return {}
        statement = select(Note.id, Note.title).where(
            Note.workspace_id == self.workspace_id,
            Note.id.in_(note_ids),
            Note.trashed_at.is_(None),
        )
        return dict((await self.session.execute(statement)).all())


class TitleKeyRepository(WorkspaceRepository[NoteTitleKey]):
    model = NoteTitleKey

    async def key_of(self, note_id: str) -> str | None:
        parameters = {"workspace_id": self.workspace_id, "note_id": note_id}
        return (await self.session.execute(_TITLE_KEY_OF, parameters)).scalar_one_or_none()

    async def add(self, note_id: str, key: str) -> None:
        await _INSERT_TITLE_KEY.run(self.session, [self._row(note_id, key)])

    async def change(self, note_id: str, key: str) -> None:
        await _CHANGE_TITLE_KEY.run(self.session, [self._row(note_id, key)])

    async def remove(self, note_id: str) -> None:
        await _DELETE_TITLE_KEY.run(
            self.session, [{"workspace_id": self.workspace_id, "note_id": note_id}]
        )

    def _row(self, note_id: str, key: str) -> dict[str, str]:
        return {"workspace_id": self.workspace_id, "note_id": note_id, "title_key": key}

    async def resolve(self, keys: Collection[str]) -> dict[str, str]:
        """For each key, the oldest live note with that title key (ULIDs sort by age)."""
        if not keys:
            return {}
        parameters = {"workspace_id": self.workspace_id, "keys": list(keys)}
        return dict((await self.session.execute(_RESOLVE, parameters)).all())
