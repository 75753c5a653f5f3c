from collections.abc import Collection, Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Select, bindparam, delete, exists, select

from ainotes.core.models import table_insert
from ainotes.core.pagination import Ordering, bound_page_parameters, paginate, paginate_bound
from ainotes.core.repository import WorkspaceRepository
from ainotes.core.rows import RowQuery, RowWrite
from ainotes.notes.models import Note, NoteRevision, NoteTag
from ainotes.notes.schemas import NoteFilters, NoteSummary

# What a listing shows of a note: NoteSummary's fields, so that a row validates as a plain dict
# (not the body, most of a note's bytes).
SUMMARY_COLUMNS = [Note.__table__.c[name] for name in NoteSummary.model_fields]
# GET of one note, the API's most frequent read (core/rows.py).
NOTE_COLUMNS = RowQuery(
    select(*Note.__table__.c).where(
        Note.workspace_id == bindparam("workspace_id"), Note.id == bindparam("note_id")
    )
)


# A note write's own rows (its tags, its revision) go in as rows: nothing in the request reads
# them back through the session, and as entities the unit of work built and flushed each.
_DELETE_TAGS = RowWrite(
    delete(NoteTag).where(
        NoteTag.workspace_id == bindparam("workspace_id"), NoteTag.note_id == bindparam("note_id")
    )
)
_INSERT_TAGS = RowWrite(table_insert(NoteTag))
_INSERT_REVISION = RowWrite(table_insert(NoteRevision))
# Statements of every note write, built once: building and keying one per call costs about
# what running it costs.
_NOTE_FOR_UPDATE = (
    select(Note)
    .where(Note.workspace_id == bindparam("workspace_id"), Note.id == bindparam("note_id"))
    .with_for_update(key_share=True)
)


class NoteRepository(WorkspaceRepository[Note]):
    model = Note

    async def columns(self, note_id: str) -> dict[str, Any] | None:
        """The note's columns by key, to show it; changing it takes the entity (``get``)."""
        parameters = {"workspace_id": self.workspace_id, "note_id": note_id}
        return await NOTE_COLUMNS.first(self.session, parameters)

    async def get_for_update(self, note_id: str) -> Note | None:
        # FOR NO KEY UPDATE on PostgreSQL makes a concurrent writer wait and then see the new
        # version, without blocking the FOR KEY SHARE that inserting a row referencing the note
        # (a link from another note being saved) takes: FOR UPDATE would deadlock two notes
        # saved at once that link to each other. On SQLite the write transaction already holds
        # the database lock.
        parameters = {"workspace_id": self.workspace_id, "note_id": note_id}
        return (await self.session.execute(_NOTE_FOR_UPDATE, parameters)).scalar_one_or_none()

    async def lock_all(self, note_ids: Collection[str]) -> None:
        """Lock these notes as ``get_for_update`` does, in id order, so that a writer that
        takes several (applying a proposal) cannot deadlock with another such writer, and can
        take them all before it records an event (the audit chain head is always locked
        after the rows a writer changes)."""
        statement = (
            select(Note.id)
            .where(Note.workspace_id == self.workspace_id, Note.id.in_(sorted(note_ids)))
            .order_by(Note.id)
            .with_for_update(key_share=True)
        )
        await self.session.execute(statement)

    async def page(
        self, filters: NoteFilters, ordering: Ordering, cursor: str | None, limit: int
    ) -> list[dict[str, Any]]:
        """A page of note summaries: rows of ``SUMMARY_COLUMNS``, as dicts."""
        parameters = {
            "workspace_id": self.workspace_id,
            "pinned": filters.pinned,
            "archived": filters.archived,
            "updated_after": filters.updated_after,
            "tag": filters.tag,
            **bound_page_parameters(ordering, cursor, limit),
        }
        return await _listing(filters, ordering, after=cursor is not None).all(
            self.session, parameters
        )

    async def batch_after(self, after_id: str, size: int) -> Sequence[Note]:
        """Notes of the workspace, the trash included, with ids above ``after_id``, in id
        order."""
        statement = self.select().where(Note.id > after_id).order_by(Note.id).limit(size)
        return (await self.session.execute(statement)).scalars().all()

    async def replace_tags(self, note_id: str, tags: list[str]) -> None:
        await _DELETE_TAGS.run(
            self.session, [{"workspace_id": self.workspace_id, "note_id": note_id}]
        )
        await _INSERT_TAGS.run(
            self.session,
            [{"workspace_id": self.workspace_id, "note_id": note_id, "tag": tag} for tag in tags],
        )

    async def delete(self, note: Note) -> None:
        await self.session.delete(note)


class RevisionRepository(WorkspaceRepository[NoteRevision]):
    model = NoteRevision

    async def list(
        self, note_id: str, cursor: str | None, limit: int, ordering: Ordering
    ) -> Sequence[NoteRevision]:
        statement = paginate(
            self.select().where(NoteRevision.note_id == note_id),
            ordering,
            cursor,
            limit,
        )
        return (await self.session.execute(statement)).scalars().all()

    async def get_version(self, note_id: str, version: int) -> NoteRevision | None:
        statement = self.select().where(
            NoteRevision.note_id == note_id, NoteRevision.version == version
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def add(self, revision: Mapping[str, Any]) -> None:
        """A new version's revision, every column given."""
        await _INSERT_REVISION.run(self.session, [{**revision, "workspace_id": self.workspace_id}])


class _ListingShape(NamedTuple):
    """What decides a listing's SQL: which filters are set, the order, whether after a cursor."""

    trashed: bool
    pinned: bool
    archived: bool
    updated_after: bool
    tag: bool
    ordering: str
    after: bool


_LISTINGS: dict[_ListingShape, RowQuery] = {}


def _listing(filters: NoteFilters, ordering: Ordering, *, after: bool) -> RowQuery:
    """The listing statement of this shape, with every value a parameter, built once and run
    on the driver (core/rows.py): building it, and SQLAlchemy's cache key of it, cost a sixth
    of a listing's CPU, and SQLAlchemy's execution and rows of 51 notes as much again."""
    shape = _ListingShape(
        filters.trashed,
        filters.pinned is not None,
        filters.archived is not None,
        filters.updated_after is not None,
        filters.tag is not None,
        ordering.name,
        after,
    )
    statement = _LISTINGS.get(shape)
    if statement is None:
        statement = _LISTINGS[shape] = RowQuery(_build_listing(shape, ordering))
    return statement


def _build_listing(shape: _ListingShape, ordering: Ordering) -> Select[Any]:
    statement = select(*SUMMARY_COLUMNS).where(Note.workspace_id == bindparam("workspace_id"))
    if shape.trashed:
        statement = statement.where(Note.trashed_at.is_not(None))
    else:
        statement = statement.where(Note.trashed_at.is_(None))
    if shape.pinned:
        statement = statement.where(Note.pinned == bindparam("pinned"))
    if shape.archived:
        statement = statement.where(Note.archived == bindparam("archived"))
    if shape.updated_after:
        statement = statement.where(Note.updated_at > bindparam("updated_after"))
    if shape.tag:
        statement = statement.where(
            exists().where(
                NoteTag.workspace_id == bindparam("workspace_id"),
                NoteTag.tag == bindparam("tag"),
                NoteTag.note_id == Note.id,
            )
        )
    return paginate_bound(statement, ordering, shape.after)
