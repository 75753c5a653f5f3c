"""Notes: versioned markdown with revisions, optimistic concurrency and a trash.

Every write bumps ``version`` and stores a revision row for the new version, so that the
revision history is the complete list of states the note has been in.
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm.exc import StaleDataError

from ainotes.core import audit
from ainotes.core.concurrency import StaleVersion, check_version
from ainotes.core.db import ReadOnlySession, WritableSession
from ainotes.core.models import utcnow
from ainotes.core.pagination import Ordering, page_of
from ainotes.core.principal import Principal
from ainotes.notes import events
from ainotes.notes.errors import (
    NoteInTrash,
    NoteNotFound,
    NoteNotInTrash,
    NoteTooLarge,
    RevisionNotFound,
)
from ainotes.notes.events import NoteChange, NoteChangeKind
from ainotes.notes.models import Note, NoteRevision
from ainotes.notes.repository import NoteRepository, RevisionRepository
from ainotes.notes.schemas import (
    NoteCreate,
    NoteFilters,
    NoteSort,
    NoteUpdate,
    SortOrder,
)
from ainotes.workspaces.service import WorkspaceAccess

ORDERINGS = {
    (sort, order): Ordering(
        f"{sort.value}:{order.value}",
        Note.updated_at if sort is NoteSort.UPDATED_AT else Note.created_at,
        Note.id,
        descending=order is SortOrder.DESC,
    )
    for sort in NoteSort
    for order in SortOrder
}
REVISION_ORDER = Ordering(
    "version:desc", NoteRevision.version, NoteRevision.note_id, descending=True
)
# Notes per round trip when other modules rebuild what they derive from notes.
REBUILD_BATCH = 500


@dataclass(frozen=True, slots=True)
class NoteLimits:
    max_body_chars: int


def _check_body(body: str | None, limits: NoteLimits) -> None:
    if body is not None and len(body) > limits.max_body_chars:
        raise NoteTooLarge(
            f"The note body has {len(body)} characters; "
            f"at most {limits.max_body_chars} are allowed.",
            max_body_chars=limits.max_body_chars,
        )


# The audit action of each kind of new version (NoteRevision.change).
_ACTIONS = {
    "update": "note.updated",
    "trash": "note.trashed",
    "restore": "note.restored",
    "revision_restore": "note.revision_restored",
}
_AUDITED = ("title", "body", "tags", "pinned", "archived", "trashed_at", "version")


def _audited(note: Note) -> dict[str, Any]:
    values = {key: getattr(note, key) for key in _AUDITED}
    values["tags"] = list(note.tags)
    values["trashed"] = values.pop("trashed_at") is not None
    return values


def _audited_before(note: Note) -> dict[str, Any]:
    """The audited fields as they were before this write's pending changes, read from the
    unit of work's history so that each writer need not take a snapshot first."""
    state = inspect(note)
    values = {}
    for key in _AUDITED:
        history = state.attrs[key].history
        values[key] = history.deleted[0] if history.deleted else getattr(note, key)
    values["tags"] = list(values["tags"])
    values["trashed"] = values.pop("trashed_at") is not None
    return values


async def _record(
    session: WritableSession,
    actor: Principal,
    action: str,
    note: Note,
    before: dict[str, Any],
    after: dict[str, Any],
) -> None:
    # Links and tasks derived from the body change with it, and are covered by this event. It
    # is recorded last: the chain head stays locked from here to the commit, and serializes
    # the workspace's writers.
    await audit.record(
        session,
        actor=actor,
        action=action,
        target_type="note",
        target_id=note.id,
        workspace_id=note.workspace_id,
        changes=audit.changes_between(before, after),
    )


def _not_found(note_id: str) -> NoteNotFound:
    return NoteNotFound(f"No note {note_id} exists in this workspace.")


async def _record_revision(
    session: WritableSession,
    note: Note,
    change: str,
    actor: Principal,
    *,
    unconditional: bool = False,
) -> None:
    await RevisionRepository(session, note.workspace_id).add(
        {
            "note_id": note.id,
            "version": note.version,
            "title": note.title,
            "body": note.body,
            "tags": list(note.tags),
            "pinned": note.pinned,
            "archived": note.archived,
            "trashed": note.trashed_at is not None,
            "change": change,
            "unconditional": unconditional,
            "created_by": actor.id,
            "on_behalf_of": actor.on_behalf_of,
            "proposal_id": actor.proposal_id,
            "created_at": note.updated_at,
        }
    )


async def _publish(
    session: WritableSession, note: Note, kind: NoteChangeKind, previous_title: str | None
) -> None:
    await events.publish(
        session,
        NoteChange(
            kind=kind,
            workspace_id=note.workspace_id,
            note_id=note.id,
            version=note.version,
            title=note.title,
            body=note.body,
            tags=tuple(note.tags),
            previous_title=previous_title,
            trashed=note.trashed_at is not None,
            archived=note.archived,
            updated_at=note.updated_at,
            actor_id=note.updated_by,
        ),
    )


async def create(
    session: WritableSession,
    access: WorkspaceAccess,
    data: NoteCreate,
    limits: NoteLimits,
) -> Note:
    _check_body(data.body, limits)
    actor_id = access.principal.id
    now = utcnow()
    note = Note(
        workspace_id=access.workspace_id,
        title=data.title,
        body=data.body,
        tags=data.tags,
        pinned=data.pinned,
        archived=data.archived,
        created_by=actor_id,
        updated_by=actor_id,
        created_at=now,
        updated_at=now,
    )
    notes = NoteRepository(session, access.workspace_id)
    session.add(note)
    await session.flush()
    await notes.replace_tags(note.id, note.tags)
    await _record_revision(session, note, "create", access.principal)
    await _publish(session, note, NoteChangeKind.CREATED, None)
    await _record(session, access.principal, "note.created", note, {}, _audited(note))
    return note


async def get(session: ReadOnlySession, access: WorkspaceAccess, note_id: str) -> Note:
    note = await NoteRepository(session, access.workspace_id).get(note_id)
    if note is None:
        raise _not_found(note_id)
    return note


async def read(session: ReadOnlySession, access: WorkspaceAccess, note_id: str) -> dict[str, Any]:
    """The note's fields by name, for showing it (``get`` gives the entity, to change it)."""
    note = await NoteRepository(session, access.workspace_id).columns(note_id)
    if note is None:
        raise _not_found(note_id)
    return note


async def list_notes(
    session: ReadOnlySession,
    access: WorkspaceAccess,
    filters: NoteFilters,
    sort: NoteSort,
    order: SortOrder,
    cursor: str | None,
    limit: int,
) -> tuple[list[dict[str, Any]], str | None]:
    """Summaries (every field but the body), one page."""
    ordering = ORDERINGS[(sort, order)]
    rows = await NoteRepository(session, access.workspace_id).page(filters, ordering, cursor, limit)
    return page_of(rows, ordering, limit)


async def _locked(session: WritableSession, access: WorkspaceAccess, note_id: str) -> Note:
    note = await NoteRepository(session, access.workspace_id).get_for_update(note_id)
    if note is None:
        raise _not_found(note_id)
    return note


async def _save_version(
    session: WritableSession,
    note: Note,
    change: str,
    actor: Principal,
    *,
    kind: NoteChangeKind,
    previous_title: str,
    unconditional: bool = False,
    tags_changed: bool = False,
) -> Note:
    actor_id = actor.id
    before = _audited_before(note)
    note.updated_by = actor_id
    note.updated_at = utcnow()
    expected = note.version
    try:
        await session.flush()
    except StaleDataError:
        # Only reachable if a concurrent writer slipped past the row lock; report it as stale.
        raise StaleVersion(
            f"The note changed while this request was writing it (it was at version {expected}).",
        ) from None
    if tags_changed:
        await NoteRepository(session, note.workspace_id).replace_tags(note.id, note.tags)
    await _record_revision(session, note, change, actor, unconditional=unconditional)
    await _publish(session, note, kind, previous_title)
    await _record(session, actor, _ACTIONS[change], note, before, _audited(note))
    return note


async def update(
    session: WritableSession,
    access: WorkspaceAccess,
    note_id: str,
    changes: NoteUpdate,
    expected_version: int | None,
    limits: NoteLimits,
) -> Note:
    """Apply ``changes``. Without ``expected_version`` the last write wins, and the revision
    records that it was unconditional."""
    _check_body(changes.body, limits)
    note = await _locked(session, access, note_id)
    check_version("note", note.version, expected_version)
    if note.trashed_at is not None:
        raise NoteInTrash(f"Note {note_id} is in the trash; restore it before editing it.")
    fields = {k: v for k, v in changes.model_dump(exclude_unset=True).items() if v is not None}
    if all(getattr(note, key) == value for key, value in fields.items()):
        return note
    previous_title = note.title
    for key, value in fields.items():
        setattr(note, key, value)
    return await _save_version(
        session,
        note,
        "update",
        access.principal,
        kind=NoteChangeKind.UPDATED,
        previous_title=previous_title,
        unconditional=expected_version is None,
        tags_changed="tags" in fields,
    )


async def trash(
    session: WritableSession,
    access: WorkspaceAccess,
    note_id: str,
    expected_version: int | None,
) -> Note:
    note = await _locked(session, access, note_id)
    check_version("note", note.version, expected_version)
    if note.trashed_at is not None:
        return note
    note.trashed_at = utcnow()
    return await _save_version(
        session,
        note,
        "trash",
        access.principal,
        kind=NoteChangeKind.TRASHED,
        previous_title=note.title,
        unconditional=expected_version is None,
    )


async def restore(
    session: WritableSession,
    access: WorkspaceAccess,
    note_id: str,
    expected_version: int | None,
) -> Note:
    note = await _locked(session, access, note_id)
    check_version("note", note.version, expected_version)
    if note.trashed_at is None:
        raise NoteNotInTrash(f"Note {note_id} is not in the trash.")
    note.trashed_at = None
    return await _save_version(
        session,
        note,
        "restore",
        access.principal,
        kind=NoteChangeKind.RESTORED,
        previous_title=note.title,
        unconditional=expected_version is None,
    )


async def purge(
    session: WritableSession,
    access: WorkspaceAccess,
    note_id: str,
    expected_version: int | None,
) -> None:
    """Remove a trashed note and its revisions for good."""
    note = await _locked(session, access, note_id)
    check_version("note", note.version, expected_version)
    if note.trashed_at is None:
        raise NoteNotInTrash(f"Note {note_id} is not in the trash; only trashed notes are purged.")
    await _publish(session, note, NoteChangeKind.PURGED, note.title)
    await _record(session, access.principal, "note.purged", note, _audited(note), {})
    await NoteRepository(session, access.workspace_id).delete(note)
    await session.flush()


async def list_revisions(
    session: ReadOnlySession,
    access: WorkspaceAccess,
    note_id: str,
    cursor: str | None,
    limit: int,
) -> tuple[list[NoteRevision], str | None]:
    await get(session, access, note_id)
    revisions = RevisionRepository(session, access.workspace_id)
    return page_of(
        await revisions.list(note_id, cursor, limit, REVISION_ORDER),
        REVISION_ORDER,
        limit,
    )


async def get_revision(
    session: ReadOnlySession, access: WorkspaceAccess, note_id: str, version: int
) -> NoteRevision:
    await get(session, access, note_id)
    revision = await RevisionRepository(session, access.workspace_id).get_version(note_id, version)
    if revision is None:
        raise RevisionNotFound(f"Note {note_id} has no revision {version}.")
    return revision


async def restore_revision(
    session: WritableSession,
    access: WorkspaceAccess,
    note_id: str,
    version: int,
    expected_version: int | None,
) -> Note:
    """Make the content of an old version the note's new version (history is kept)."""
    note = await _locked(session, access, note_id)
    check_version("note", note.version, expected_version)
    if note.trashed_at is not None:
        raise NoteInTrash(f"Note {note_id} is in the trash; restore it before editing it.")
    revision = await RevisionRepository(session, access.workspace_id).get_version(note_id, version)
    if revision is None:
        raise RevisionNotFound(f"Note {note_id} has no revision {version}.")
    tags_changed = list(note.tags) != list(revision.tags)
    previous_title = note.title
    note.title, note.body, note.tags = (
        revision.title,
        revision.body,
        list(revision.tags),
    )
    note.pinned, note.archived = revision.pinned, revision.archived
    return await _save_version(
        session,
        note,
        "revision_restore",
        access.principal,
        kind=NoteChangeKind.UPDATED,
        previous_title=previous_title,
        unconditional=expected_version is None,
        tags_changed=tags_changed,
    )


async def current_states(
    session: ReadOnlySession, workspace_id: str, after_id: str, size: int
) -> list[NoteChange]:
    """Up to ``size`` notes of the workspace (the trash included) with ids above ``after_id``,
    in id order, each as an UPDATED change describing the note as it is: what modules that
    derive data from notes rebuild it from (``ainotes reindex``)."""
    notes = await NoteRepository(session, workspace_id).batch_after(after_id, size)
    return [
        NoteChange(
            kind=NoteChangeKind.UPDATED,
            workspace_id=note.workspace_id,
            note_id=note.id,
            version=note.version,
            title=note.title,
            body=note.body,
            tags=tuple(note.tags),
            previous_title=note.title,
            trashed=note.trashed_at is not None,
            archived=note.archived,
            updated_at=note.updated_at,
            actor_id=note.updated_by,
        )
        for note in notes
    ]
