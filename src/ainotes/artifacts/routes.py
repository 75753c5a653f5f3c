from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Response, status

from ainotes.artifacts import service as artifacts_service
from ainotes.artifacts.errors import (
    ArtifactNotFound,
    InvalidArtifactContent,
    SourceNoteInTrash,
    SourceNoteNotFound,
    SourceVersionAhead,
)
from ainotes.artifacts.schemas import (
    ArtifactCreate,
    ArtifactKind,
    ArtifactRead,
    ArtifactSummary,
    ArtifactUpdate,
    ProvenanceRead,
    SourceRead,
)
from ainotes.artifacts.service import ArtifactView
from ainotes.core.concurrency import ExpectedVersion, InvalidIfMatch, StaleVersion, etag_for
from ainotes.core.config import Settings
from ainotes.core.db import ReadSession, WriteSession
from ainotes.core.errors import problem_responses
from ainotes.core.idempotency import IdempotentRoute
from ainotes.core.ids import ID_PATTERN
from ainotes.core.openapi import sets_headers
from ainotes.core.pagination import InvalidCursor
from ainotes.core.schemas import Page
from ainotes.workspaces.dependencies import EditableWorkspace, ViewableWorkspace
from ainotes.workspaces.errors import WORKSPACE_ACCESS_ERRORS

ArtifactId = Annotated[str, Path(pattern=ID_PATTERN, description="The artifact's id.")]


def _summary_fields(view: ArtifactView) -> dict[str, object]:
    artifact = view.artifact
    return {
        "id": artifact.id,
        "workspace_id": artifact.workspace_id,
        "kind": ArtifactKind(artifact.kind),
        "title": artifact.title,
        "sources": [
            SourceRead(
                note_id=s.note_id,
                version=s.version,
                current_version=s.current_version,
                state=s.state,
            )
            for s in view.sources
        ],
        "stale": view.stale,
        "stale_sources": view.stale_sources,
        "provenance": ProvenanceRead(
            generator=artifact.generator, model=artifact.model, parameters=artifact.parameters
        ),
        "version": artifact.version,
        "created_by": artifact.created_by,
        "updated_by": artifact.updated_by,
        "created_at": artifact.created_at,
        "updated_at": artifact.updated_at,
    }


def artifact_read(view: ArtifactView) -> ArtifactRead:
    return ArtifactRead.model_validate({**_summary_fields(view), "content": view.artifact.content})


def artifact_summary(view: ArtifactView) -> ArtifactSummary:
    return ArtifactSummary.model_validate(_summary_fields(view))


def build_router(settings: Settings) -> APIRouter:
    router = APIRouter(
        prefix="/v1/workspaces/{workspace_id}/artifacts",
        tags=["artifacts"],
        route_class=IdempotentRoute,
    )
    PageSize = Annotated[int, Query(ge=1, le=settings.max_page_size)]  # noqa: N806
    default_limit = settings.default_page_size
    scoped = WORKSPACE_ACCESS_ERRORS
    one = (*scoped, ArtifactNotFound)
    versioned = (*one, StaleVersion, InvalidIfMatch)
    sourced = (SourceNoteNotFound, SourceNoteInTrash, SourceVersionAhead)

    @router.post(
        "",
        response_model=ArtifactRead,
        status_code=status.HTTP_201_CREATED,
        responses={
            **problem_responses(*scoped, *sourced),
            **sets_headers(201, "ETag", "Location"),
        },
    )
    async def create_artifact(
        body: Annotated[ArtifactCreate, Body()],
        access: EditableWorkspace,
        session: WriteSession,
        response: Response,
    ) -> ArtifactRead:
        """Store an artifact. `kind` decides the shape of `content`; each source defaults to the
        note's current version."""
        view = await artifacts_service.create(session, access, body)
        response.headers["ETag"] = etag_for(view.artifact.version)
        response.headers["Location"] = (
            f"/v1/workspaces/{access.workspace_id}/artifacts/{view.artifact.id}"
        )
        return artifact_read(view)

    @router.get(
        "",
        response_model=Page[ArtifactSummary],
        responses=problem_responses(*scoped, InvalidCursor),
    )
    async def list_artifacts(
        access: ViewableWorkspace,
        session: ReadSession,
        kind: ArtifactKind | None = None,
        source_note_id: Annotated[
            str | None,
            Query(pattern=ID_PATTERN, description="Only artifacts made from this note."),
        ] = None,
        cursor: Annotated[str | None, Query(max_length=1000)] = None,
        limit: PageSize = default_limit,
    ) -> Page[ArtifactSummary]:
        """Newest first, without content; each item says whether it is stale."""
        items, next_cursor = await artifacts_service.list_artifacts(
            session, access, kind, source_note_id, cursor, limit
        )
        return Page[ArtifactSummary](
            items=[artifact_summary(v) for v in items], next_cursor=next_cursor
        )

    @router.get(
        "/{artifact_id}",
        response_model=ArtifactRead,
        responses={**problem_responses(*one), **sets_headers(200, "ETag")},
    )
    async def get_artifact(
        artifact_id: ArtifactId,
        access: ViewableWorkspace,
        session: ReadSession,
        response: Response,
    ) -> ArtifactRead:
        view = await artifacts_service.get(session, access, artifact_id)
        response.headers["ETag"] = etag_for(view.artifact.version)
        return artifact_read(view)

    @router.patch(
        "/{artifact_id}",
        response_model=ArtifactRead,
        responses={
            **problem_responses(*versioned, *sourced, InvalidArtifactContent),
            **sets_headers(200, "ETag"),
        },
    )
    async def update_artifact(
        artifact_id: ArtifactId,
        changes: ArtifactUpdate,
        access: EditableWorkspace,
        session: WriteSession,
        response: Response,
        expected_version: ExpectedVersion,
    ) -> ArtifactRead:
        view = await artifacts_service.update(
            session, access, artifact_id, changes, expected_version
        )
        response.headers["ETag"] = etag_for(view.artifact.version)
        return artifact_read(view)

    @router.delete(
        "/{artifact_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=problem_responses(*versioned),
    )
    async def delete_artifact(
        artifact_id: ArtifactId,
        access: EditableWorkspace,
        session: WriteSession,
        expected_version: ExpectedVersion,
    ) -> Response:
        await artifacts_service.delete(session, access, artifact_id, expected_version)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return router
