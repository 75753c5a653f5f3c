from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from sqlalchemy import Row

from ainotes.core.config import Settings
from ainotes.core.db import ReadSession, WriteSession
from ainotes.core.errors import problem_responses
from ainotes.core.idempotency import IdempotentRoute
from ainotes.core.ids import ID_PATTERN
from ainotes.core.openapi import sets_headers
from ainotes.core.pagination import InvalidCursor
from ainotes.core.schemas import Page
from ainotes.notes.errors import NoteNotFound
from ainotes.notes.models import Note
from ainotes.relationships import service as relationships_service
from ainotes.relationships.errors import (
    BodyLinkReadOnly,
    DuplicateRelationship,
    RelatedNoteInTrash,
    RelationshipNotFound,
    SelfRelationship,
)
from ainotes.relationships.models import Relationship
from ainotes.relationships.schemas import (
    BacklinkRead,
    GraphRead,
    LinkRead,
    NoteRef,
    RelationshipCreate,
    RelationshipRead,
    RelationshipSource,
    RelationshipType,
)
from ainotes.workspaces.dependencies import EditableWorkspace, ViewableWorkspace
from ainotes.workspaces.errors import WORKSPACE_ACCESS_ERRORS

NoteId = Annotated[str, Path(pattern=ID_PATTERN, description="The note's id.")]
RelationshipId = Annotated[str, Path(pattern=ID_PATTERN, description="The relationship's id.")]
Cursor = Annotated[str | None, Query(max_length=1000)]


def link_read(row: Row[Relationship, Note | None]) -> LinkRead:
    relationship, target = row
    return LinkRead.model_validate(
        {
            **RelationshipRead.model_validate(relationship).model_dump(),
            "resolved": target is not None,
            "target": NoteRef(id=target.id, title=target.title) if target is not None else None,
        }
    )


def backlink_read(row: Row[Relationship, Note]) -> BacklinkRead:
    relationship, source_note = row
    return BacklinkRead.model_validate(
        {
            **RelationshipRead.model_validate(relationship).model_dump(),
            "source_note": NoteRef(id=source_note.id, title=source_note.title),
        }
    )


def build_router(settings: Settings) -> APIRouter:
    router = APIRouter(
        prefix="/v1/workspaces/{workspace_id}", tags=["relationships"], route_class=IdempotentRoute
    )
    PageSize = Annotated[int, Query(ge=1, le=settings.max_page_size)]  # noqa: N806
    default_limit = settings.default_page_size
    scoped = WORKSPACE_ACCESS_ERRORS

    @router.post(
        "/relationships",
        response_model=RelationshipRead,
        status_code=status.HTTP_201_CREATED,
        responses={
            **problem_responses(
                *scoped, NoteNotFound, SelfRelationship, DuplicateRelationship, RelatedNoteInTrash
            ),
            **sets_headers(201, "Location"),
        },
    )
    async def create_relationship(
        body: RelationshipCreate,
        access: EditableWorkspace,
        session: WriteSession,
        response: Response,
    ) -> Relationship:
        """Relate two notes with a typed, directed relation (`source` is `manual`)."""
        relationship = await relationships_service.create(session, access, body)
        response.headers["Location"] = (
            f"/v1/workspaces/{access.workspace_id}/relationships/{relationship.id}"
        )
        return relationship

    @router.get(
        "/relationships",
        response_model=Page[RelationshipRead],
        responses=problem_responses(*scoped, InvalidCursor),
    )
    async def list_relationships(
        access: ViewableWorkspace,
        session: ReadSession,
        note_id: Annotated[
            str | None,
            Query(pattern=ID_PATTERN, description="Only relations from or to this note."),
        ] = None,
        type: RelationshipType | None = None,
        source: RelationshipSource | None = None,
        cursor: Cursor = None,
        limit: PageSize = default_limit,
    ) -> Page[RelationshipRead]:
        """Every link of the workspace, body links and manual relations, oldest first."""
        items, next_cursor = await relationships_service.list_relationships(
            session, access, note_id, type, source, cursor, limit
        )
        return Page[RelationshipRead](
            items=[RelationshipRead.model_validate(r) for r in items], next_cursor=next_cursor
        )

    @router.get(
        "/relationships/{relationship_id}",
        response_model=RelationshipRead,
        responses=problem_responses(*scoped, RelationshipNotFound),
    )
    async def get_relationship(
        relationship_id: RelationshipId, access: ViewableWorkspace, session: ReadSession
    ) -> Relationship:
        return await relationships_service.get(session, access, relationship_id)

    @router.delete(
        "/relationships/{relationship_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=problem_responses(*scoped, RelationshipNotFound, BodyLinkReadOnly),
    )
    async def delete_relationship(
        relationship_id: RelationshipId, access: EditableWorkspace, session: WriteSession
    ) -> Response:
        """Delete a manual relation. Links written in a note's body are removed by editing it."""
        await relationships_service.delete(session, access, relationship_id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.get(
        "/notes/{note_id}/links",
        response_model=Page[LinkRead],
        responses=problem_responses(*scoped, NoteNotFound, InvalidCursor),
    )
    async def list_note_links(
        note_id: NoteId,
        access: ViewableWorkspace,
        session: ReadSession,
        cursor: Cursor = None,
        limit: PageSize = default_limit,
    ) -> Page[LinkRead]:
        """The note's outgoing links, unresolved wikilinks included (`target` is null)."""
        rows, next_cursor = await relationships_service.outgoing_links(
            session, access, note_id, cursor, limit
        )
        return Page[LinkRead](items=[link_read(row) for row in rows], next_cursor=next_cursor)

    @router.get(
        "/notes/{note_id}/backlinks",
        response_model=Page[BacklinkRead],
        responses=problem_responses(*scoped, NoteNotFound, InvalidCursor),
    )
    async def list_note_backlinks(
        note_id: NoteId,
        access: ViewableWorkspace,
        session: ReadSession,
        cursor: Cursor = None,
        limit: PageSize = default_limit,
    ) -> Page[BacklinkRead]:
        """Links to the note from notes not in the trash; `context` is the linking line."""
        rows, next_cursor = await relationships_service.backlinks(
            session, access, note_id, cursor, limit
        )
        return Page[BacklinkRead](
            items=[backlink_read(row) for row in rows], next_cursor=next_cursor
        )

    @router.get(
        "/graph",
        response_model=GraphRead,
        responses=problem_responses(*scoped, NoteNotFound),
    )
    async def get_graph(
        access: ViewableWorkspace,
        session: ReadSession,
        root: Annotated[str, Query(pattern=ID_PATTERN, description="The note to start from.")],
        depth: Annotated[
            int, Query(ge=1, le=relationships_service.GRAPH_MAX_DEPTH, description="Hops.")
        ] = 1,
        max_nodes: Annotated[
            int,
            Query(
                ge=1,
                le=relationships_service.GRAPH_NODE_LIMIT,
                description="At most this many notes, the root included; past it the "
                "response says `truncated`.",
            ),
        ] = relationships_service.GRAPH_DEFAULT_NODES,
    ) -> GraphRead:
        """The neighbourhood of a note: the notes within `depth` resolved links of it, in
        either direction, and the links among them."""
        return await relationships_service.graph(session, access, root, depth, max_nodes)

    return router
