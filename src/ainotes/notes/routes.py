from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from ainotes.attachments import service as attachments_service
from ainotes.core.concurrency import (
    ExpectedVersion,
    InvalidIfMatch,
    StaleVersion,
    etag_for,
)
from ainotes.core.config import Settings
from ainotes.core.db import ReadSession, WriteSession
from ainotes.core.errors import problem_responses
from ainotes.core.idempotency import IdempotentRoute
from ainotes.core.ids import ID_PATTERN
from ainotes.core.openapi import sets_headers
from ainotes.core.pagination import InvalidCursor
from ainotes.core.schemas import Page, UtcInstant
from ainotes.notes import service as notes_service
from ainotes.notes.errors import (
    NoteInTrash,
    NoteNotFound,
    NoteNotInTrash,
    NoteTooLarge,
    RevisionNotFound,
)
from ainotes.notes.models import Note, NoteRevision
from ainotes.notes.schemas import (
    AttachmentRef,
    NoteCreate,
    NoteDetail,
    NoteFilters,
    NoteRead,
    NoteSort,
    NoteSummary,
    NoteUpdate,
    RevisionRead,
    RevisionSummary,
    SortOrder,
    normalize_tag,
)
from ainotes.workspaces.dependencies import EditableWorkspace, ViewableWorkspace
from ainotes.workspaces.errors import WORKSPACE_ACCESS_ERRORS

NoteId = Annotated[str, Path(pattern=ID_PATTERN, description="The note's id.")]
Version = Annotated[int, Path(ge=1, le=2**31 - 1, description="A version of the note.")]


def build_router(settings: Settings) -> APIRouter:
    router = APIRouter(
        prefix="/v1/workspaces/{workspace_id}/notes", tags=["notes"], route_class=IdempotentRoute
    )
    PageSize = Annotated[int, Query(ge=1, le=settings.max_page_size)]  # noqa: N806
    default_limit = settings.default_page_size
    limits = notes_service.NoteLimits(max_body_chars=settings.max_note_body_chars)
    scoped = WORKSPACE_ACCESS_ERRORS
    one_note = (*scoped, NoteNotFound)
    versioned = (*one_note, StaleVersion, InvalidIfMatch)

    @router.post(
        "",
        response_model=NoteRead,
        status_code=status.HTTP_201_CREATED,
        responses={
            **problem_responses(*scoped, NoteTooLarge),
            **sets_headers(201, "ETag", "Location"),
        },
    )
    async def create_note(
        body: NoteCreate,
        access: EditableWorkspace,
        session: WriteSession,
        response: Response,
    ) -> Note:
        note = await notes_service.create(session, access, body, limits)
        response.headers["ETag"] = etag_for(note.version)
        response.headers["Location"] = f"/v1/workspaces/{access.workspace_id}/notes/{note.id}"
        return note

    @router.get(
        "",
        response_model=Page[NoteSummary],
        responses=problem_responses(*scoped, InvalidCursor),
    )
    async def list_notes(
        access: ViewableWorkspace,
        session: ReadSession,
        tag: Annotated[
            str | None, Query(max_length=200, description="Only notes with this tag.")
        ] = None,
        pinned: bool | None = None,
        archived: bool | None = None,
        updated_after: Annotated[
            UtcInstant | None,
            Query(description="Only notes changed after this instant (with a UTC offset)."),
        ] = None,
        trashed: Annotated[
            bool, Query(description="List the trash instead of live notes.")
        ] = False,
        sort: NoteSort = NoteSort.UPDATED_AT,
        order: SortOrder = SortOrder.DESC,
        cursor: Annotated[str | None, Query(max_length=1000)] = None,
        limit: PageSize = default_limit,
    ) -> Page[NoteSummary]:
        filters = NoteFilters(
            tag=_normalized_or_none(tag),
            pinned=pinned,
            archived=archived,
            updated_after=updated_after,
            trashed=trashed,
        )
        items, next_cursor = await notes_service.list_notes(
            session, access, filters, sort, order, cursor, limit
        )
        return Page[NoteSummary].model_validate({"items": items, "next_cursor": next_cursor})

    @router.get(
        "/{note_id}",
        response_model=NoteDetail,
        responses={**problem_responses(*one_note), **sets_headers(200, "ETag")},
    )
    async def get_note(
        note_id: NoteId,
        access: ViewableWorkspace,
        session: ReadSession,
        response: Response,
    ) -> NoteDetail:
        # Composed here: attachments reads notes (who references a file), so the notes
        # service does not call back into attachments.
        note = await notes_service.read(session, access, note_id)
        attachments = await attachments_service.list_referenced(
            session, access.workspace_id, note["body"]
        )
        response.headers["ETag"] = etag_for(note["version"])
        return NoteDetail.model_validate(
            {**note, "attachments": [AttachmentRef.model_validate(a) for a in attachments]}
        )

    @router.patch(
        "/{note_id}",
        response_model=NoteRead,
        responses={
            **problem_responses(*versioned, NoteTooLarge, NoteInTrash),
            **sets_headers(200, "ETag"),
        },
    )
    async def update_note(
        note_id: NoteId,
        changes: NoteUpdate,
        access: EditableWorkspace,
        session: WriteSession,
        response: Response,
        expected_version: ExpectedVersion,
    ) -> Note:
        note = await notes_service.update(
            session, access, note_id, changes, expected_version, limits
        )
        response.headers["ETag"] = etag_for(note.version)
        return note

    @router.delete(
        "/{note_id}",
        response_model=NoteRead,
        responses={**problem_responses(*versioned), **sets_headers(200, "ETag")},
    )
    async def trash_note(
        note_id: NoteId,
        access: EditableWorkspace,
        session: WriteSession,
        response: Response,
        expected_version: ExpectedVersion,
    ) -> Note:
        """Move the note to the trash; it can be restored until it is purged."""
        note = await notes_service.trash(session, access, note_id, expected_version)
        response.headers["ETag"] = etag_for(note.version)
        return note

    @router.post(
        "/{note_id}/restore",
        response_model=NoteRead,
        responses={
            **problem_responses(*versioned, NoteNotInTrash),
            **sets_headers(200, "ETag"),
        },
    )
    async def restore_note(
        note_id: NoteId,
        access: EditableWorkspace,
        session: WriteSession,
        response: Response,
        expected_version: ExpectedVersion,
    ) -> Note:
        """Take the note out of the trash."""
        note = await notes_service.restore(session, access, note_id, expected_version)
        response.headers["ETag"] = etag_for(note.version)
        return note

    @router.post(
        "/{note_id}/purge",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=problem_responses(*versioned, NoteNotInTrash),
    )
    async def purge_note(
        note_id: NoteId,
        access: EditableWorkspace,
        session: WriteSession,
        expected_version: ExpectedVersion,
    ) -> Response:
        """Delete a trashed note and all its revisions for good."""
        await notes_service.purge(session, access, note_id, expected_version)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.get(
        "/{note_id}/revisions",
        response_model=Page[RevisionSummary],
        responses=problem_responses(*one_note, InvalidCursor),
    )
    async def list_revisions(
        note_id: NoteId,
        access: ViewableWorkspace,
        session: ReadSession,
        cursor: Annotated[str | None, Query(max_length=1000)] = None,
        limit: PageSize = default_limit,
    ) -> Page[RevisionSummary]:
        items, next_cursor = await notes_service.list_revisions(
            session, access, note_id, cursor, limit
        )
        return Page[RevisionSummary](
            items=[RevisionSummary.model_validate(r) for r in items],
            next_cursor=next_cursor,
        )

    @router.get(
        "/{note_id}/revisions/{version}",
        response_model=RevisionRead,
        responses=problem_responses(*one_note, RevisionNotFound),
    )
    async def get_revision(
        note_id: NoteId,
        version: Version,
        access: ViewableWorkspace,
        session: ReadSession,
    ) -> NoteRevision:
        return await notes_service.get_revision(session, access, note_id, version)

    @router.post(
        "/{note_id}/revisions/{version}/restore",
        response_model=NoteRead,
        responses={
            **problem_responses(*versioned, RevisionNotFound, NoteInTrash),
            **sets_headers(200, "ETag"),
        },
    )
    async def restore_revision(
        note_id: NoteId,
        version: Version,
        access: EditableWorkspace,
        session: WriteSession,
        response: Response,
        expected_version: ExpectedVersion,
    ) -> Note:
        """Make an old version's content the note's newest version."""
        note = await notes_service.restore_revision(
            session, access, note_id, version, expected_version
        )
        response.headers["ETag"] = etag_for(note.version)
        return note

    return router


def _normalized_or_none(tag: str | None) -> str | None:
    if tag is None:
        return None
    try:
        return normalize_tag(tag)
    except ValueError:
        # A tag no note can carry matches nothing; keep it so that the listing is empty.
        return tag
