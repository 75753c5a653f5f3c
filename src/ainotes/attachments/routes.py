from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from ainotes.attachments import service as attachments_service
from ainotes.attachments.dependencies import staged_upload
from ainotes.attachments.errors import (
    AttachmentContentMissing,
    AttachmentInUse,
    AttachmentNotFound,
    AttachmentTooLarge,
    MalformedUpload,
    RangeNotSatisfiable,
)
from ainotes.attachments.headers import content_disposition
from ainotes.attachments.models import Attachment
from ainotes.attachments.multipart import FILE_FIELD
from ainotes.attachments.schemas import AttachmentRead
from ainotes.attachments.service import Download, StagedUpload
from ainotes.attachments.storage import blob_store
from ainotes.core.config import Settings
from ainotes.core.db import ReadSession, WriteSession
from ainotes.core.errors import problem_responses
from ainotes.core.idempotency import IDEMPOTENCY_PROBLEMS, IdempotentRoute
from ainotes.core.ids import ID_PATTERN
from ainotes.core.middleware import answering_head
from ainotes.core.openapi import header_docs, sets_headers
from ainotes.core.pagination import InvalidCursor
from ainotes.core.schemas import Page
from ainotes.workspaces.dependencies import EditableWorkspace, ViewableWorkspace
from ainotes.workspaces.errors import WORKSPACE_ACCESS_ERRORS

AttachmentId = Annotated[str, Path(pattern=ID_PATTERN, description="The attachment's id.")]

# Shown in place (inline) rather than downloaded; none of these can run script.
_INLINE_PREFIXES = ("image/", "audio/", "video/", "text/plain", "application/pdf")
_CONTENT_HEADERS = {
    "Accept-Ranges": "bytes",
    "X-Content-Type-Options": "nosniff",
    # Even if a browser renders the file, it gets no script, no plugins, no same-origin access.
    "Content-Security-Policy": "default-src 'none'; sandbox",
    # Revalidate with the ETag every time: access may have been revoked since.
    "Cache-Control": "private, no-cache",
}


_BINARY = {"type": "string", "format": "binary"}
_UPLOAD_BODY = {
    "required": True,
    "description": (
        "The file's bytes as the raw body, or a multipart/form-data form with one `file` part."
    ),
    "content": {
        "application/octet-stream": {"schema": _BINARY},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": [FILE_FIELD],
                "properties": {
                    FILE_FIELD: {
                        **_BINARY,
                        "description": "The file; its part's filename and Content-Type "
                        "are recorded. Other non-file fields are ignored.",
                    }
                },
            },
            "encoding": {FILE_FIELD: {"contentType": "*/*"}},
        },
        "*/*": {"schema": _BINARY},
    },
}


def _content_response(download: Download) -> Response:
    attachment = download.attachment
    headers = {
        **_CONTENT_HEADERS,
        "ETag": attachments_service.etag_of(attachment),
    }
    if download.not_modified:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    assert download.chunks is not None
    inline = attachment.content_type.startswith(_INLINE_PREFIXES)
    headers["Content-Disposition"] = content_disposition(attachment.filename, inline=inline)
    byte_range = download.byte_range
    if byte_range is None:
        headers["Content-Length"] = str(attachment.size)
        status_code = status.HTTP_200_OK
    else:
        headers["Content-Length"] = str(byte_range.length)
        headers["Content-Range"] = f"bytes {byte_range.start}-{byte_range.end}/{attachment.size}"
        status_code = status.HTTP_206_PARTIAL_CONTENT
    return StreamingResponse(
        download.chunks,
        status_code=status_code,
        headers=headers,
        media_type=attachment.content_type,
    )


def build_router(settings: Settings) -> APIRouter:
    router = APIRouter(
        prefix="/v1/workspaces/{workspace_id}/attachments",
        tags=["attachments"],
        route_class=IdempotentRoute,
    )
    PageSize = Annotated[int, Query(ge=1, le=settings.max_page_size)]  # noqa: N806
    default_limit = settings.default_page_size
    store = blob_store(settings)
    receive_upload = staged_upload(store, settings.max_attachment_bytes)
    scoped = WORKSPACE_ACCESS_ERRORS
    one = (*scoped, AttachmentNotFound)

    @router.post(
        "",
        response_model=AttachmentRead,
        status_code=status.HTTP_201_CREATED,
        # The idempotency problems named here too: the route class only fills in statuses
        # that are not documented yet, and 400 is.
        responses={
            **problem_responses(
                *scoped, AttachmentTooLarge, MalformedUpload, *IDEMPOTENCY_PROBLEMS
            ),
            **sets_headers(201, "ETag", "Location"),
        },
        openapi_extra={"requestBody": _UPLOAD_BODY},
    )
    async def create_attachment(
        # Declared first: the body is received before the write transaction opens.
        staged: Annotated[StagedUpload, Depends(receive_upload, scope="function")],
        access: EditableWorkspace,
        session: WriteSession,
        response: Response,
    ) -> Attachment:
        """Upload a file, either as the raw request body (name it with `?filename=` or a
        `Content-Disposition` header; its `Content-Type` is recorded) or as the one `file`
        part of a `multipart/form-data` form (the part's file name and `Content-Type` are
        recorded; `?filename=` overrides the name). The declared type is checked against the
        bytes. Identical files share storage."""
        attachment = await attachments_service.create(session, access, staged)
        response.headers["Location"] = (
            f"/v1/workspaces/{access.workspace_id}/attachments/{attachment.id}"
        )
        response.headers["ETag"] = attachments_service.etag_of(attachment)
        return attachment

    @router.get(
        "",
        response_model=Page[AttachmentRead],
        responses=problem_responses(*scoped, InvalidCursor),
    )
    async def list_attachments(
        access: ViewableWorkspace,
        session: ReadSession,
        cursor: Annotated[str | None, Query(max_length=1000)] = None,
        limit: PageSize = default_limit,
    ) -> Page[AttachmentRead]:
        """Newest first."""
        items, next_cursor = await attachments_service.list_attachments(
            session, access, cursor, limit
        )
        return Page[AttachmentRead](
            items=[AttachmentRead.model_validate(a) for a in items], next_cursor=next_cursor
        )

    @router.get(
        "/{attachment_id}", response_model=AttachmentRead, responses=problem_responses(*one)
    )
    async def get_attachment(
        attachment_id: AttachmentId, access: ViewableWorkspace, session: ReadSession
    ) -> Attachment:
        return await attachments_service.get(session, access, attachment_id)

    @router.get(
        "/{attachment_id}/content",
        response_class=StreamingResponse,
        responses={
            200: {
                "description": "The whole file.",
                "content": {"*/*": {}},
                "headers": header_docs("ETag"),
            },
            206: {
                "description": "The requested byte range.",
                "content": {"*/*": {}},
                "headers": header_docs("ETag", "Content-Range"),
            },
            304: {"description": "Not modified (If-None-Match).", "headers": header_docs("ETag")},
            **problem_responses(*one, RangeNotSatisfiable, AttachmentContentMissing),
            416: {
                **problem_responses(RangeNotSatisfiable)[416],
                "headers": header_docs("Content-Range"),
            },
        },
    )
    async def get_attachment_content(
        request: Request,
        attachment_id: AttachmentId,
        access: ViewableWorkspace,
        session: ReadSession,
        range_header: Annotated[str | None, Header(alias="Range", max_length=200)] = None,
        if_range: Annotated[str | None, Header(max_length=200)] = None,
        if_none_match: Annotated[str | None, Header(max_length=2000)] = None,
    ) -> Response:
        """The file's bytes, streamed. One byte range per request (`Range: bytes=0-99`,
        `bytes=100-`, `bytes=-100`); the ETag is the sha256."""
        download = await attachments_service.open_content(
            session,
            access,
            attachment_id,
            store,
            range_header=range_header,
            if_range=if_range,
            if_none_match=if_none_match,
            with_body=not answering_head(request),
        )
        return _content_response(download)

    @router.delete(
        "/{attachment_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=problem_responses(*one, AttachmentInUse),
    )
    async def delete_attachment(
        attachment_id: AttachmentId,
        access: EditableWorkspace,
        session: WriteSession,
        force: Annotated[
            bool, Query(description="Delete even while live notes reference it.")
        ] = False,
    ) -> Response:
        """Delete the attachment. Refused with 409 while live notes reference it, unless
        `force=true`; the stored bytes go once no attachment uses them."""
        await attachments_service.delete(session, access, attachment_id, store, force=force)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return router
