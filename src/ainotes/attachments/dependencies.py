"""The upload body, received into a temporary blob before the write transaction begins: the
raw body, or the ``file`` part of a multipart/form-data body.

A route's dependencies resolve in parameter order, so a route that declares ``StagedUpload``
before ``EditableWorkspace``/``WriteSession`` streams the whole body first; on SQLite the write
lock (BEGIN IMMEDIATE) is then held only for the insert, not for the upload's duration.
"""

from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import Header, Query, Request

from ainotes.attachments import service as attachments_service
from ainotes.attachments.headers import MAX_FILENAME_CHARS, filename_from_content_disposition
from ainotes.attachments.multipart import FormFile, is_form_data
from ainotes.attachments.service import StagedUpload
from ainotes.attachments.storage import BlobStore
from ainotes.auth.dependencies import CurrentPrincipal
from ainotes.core.db import ReadSession
from ainotes.core.principal import PrincipalKind
from ainotes.workspaces import service as workspaces_service
from ainotes.workspaces.dependencies import WorkspaceId
from ainotes.workspaces.models import Role


def staged_upload(store: BlobStore, max_bytes: int) -> Callable[..., AsyncIterator[StagedUpload]]:
    async def dependency(
        request: Request,
        workspace_id: WorkspaceId,
        principal: CurrentPrincipal,
        session: ReadSession,
        filename: Annotated[
            str | None,
            Query(
                min_length=1,
                max_length=MAX_FILENAME_CHARS,
                description=(
                    "The file's name (metadata only); else the form's file part's name, or "
                    "the Content-Disposition header's for a raw body."
                ),
            ),
        ] = None,
        content_disposition: Annotated[str | None, Header(max_length=2000)] = None,
        # Not a documented parameter: OpenAPI describes Content-Type by the request body's
        # media types (and says a parameter of that name is ignored).
        content_type: Annotated[str | None, Header(max_length=255, include_in_schema=False)] = None,
    ) -> AsyncIterator[StagedUpload]:
        # Editors only, checked before a single byte of the body is read.
        if principal.kind is PrincipalKind.AGENT:
            workspaces_service.refuse_agent_write(principal, workspace_id)
        await workspaces_service.get_access(session, principal, workspace_id, Role.EDITOR)
        if content_type is not None and is_form_data(content_type):
            form = FormFile(content_type, request.stream())
            staged = await attachments_service.stage_form(store, form, filename, max_bytes)
        else:
            staged = await attachments_service.stage(
                store,
                request.stream(),
                filename or filename_from_content_disposition(content_disposition),
                content_type,
                max_bytes,
            )
        try:
            yield staged
        finally:
            await staged.discard()

    # Use with Depends(..., scope="function"): the temporary blob is discarded (if it was not
    # committed) right after the route, and it may depend on the function-scoped ReadSession.
    return dependency
