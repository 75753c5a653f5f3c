"""The baseline: a bare FastAPI app with one route, served the way ``ainotes serve`` serves.

Every ainotes scenario is reported as a fraction of this app's throughput measured in the same
run, which cancels out most of the machine and the load generator.

The same app also serves two route-shape floors: ainotes' GET of a note and first page of a
listing as FastAPI sees them, with their own parameter types, bearer scheme, dependencies and
response models, but with no work behind them (no database, no access check: the session is a
constant, the note and the page are built from ready values). What a floor serves is the most
that any implementation of that route could serve within FastAPI's handling of its shape.
"""

# The floors take their routes' parameters, and leave them unused: that is their point.
# ruff: noqa: ARG001

import argparse
from datetime import UTC, datetime
from typing import Annotated, Any

import uvicorn
from fastapi import Depends, FastAPI, Query, Request, Response

from ainotes.app import served_event_loop
from ainotes.auth.dependencies import BearerCredentials
from ainotes.core.concurrency import etag_for
from ainotes.core.config import Settings
from ainotes.core.schemas import Page, UtcInstant
from ainotes.notes.routes import NoteId
from ainotes.notes.schemas import NoteDetail, NoteSort, NoteSummary, SortOrder
from ainotes.workspaces.dependencies import WorkspaceId

app = FastAPI()


@app.get("/ping")
async def ping() -> dict[str, str]:
    return {"ping": "pong"}


_SETTINGS = Settings()
_AT = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
_USER = "01JBENCH0000000000000USER1"
_SUMMARY: dict[str, Any] = {
    "title": "Gradient Descent",
    "tags": ["bench", "biology"],
    "pinned": False,
    "archived": False,
    "version": 3,
    "created_by": _USER,
    "updated_by": _USER,
    "created_at": _AT,
    "updated_at": _AT,
    "trashed_at": None,
}
# About the size of the generated notes' bodies (1-4 KB).
_BODY = "A paragraph of a learning note, with a [[wikilink]] and a - [ ] task in it. " * 30
_PAGE_IDS = [f"01JBENCH00000000000000{n:04d}" for n in range(50)]


class _Session:
    """Stands for the read session: opened by nothing, read by nobody."""


async def _session(request: Request) -> _Session:
    return _Session()


async def _access(
    request: Request,
    workspace_id: WorkspaceId,
    credentials: BearerCredentials,
    session: Annotated[_Session, Depends(_session)],
) -> str:
    return workspace_id


Access = Annotated[str, Depends(_access)]
Session = Annotated[_Session, Depends(_session)]


@app.get("/v1/workspaces/{workspace_id}/notes/{note_id}", response_model=NoteDetail)
async def get_note(note_id: NoteId, access: Access, session: Session, response: Response) -> Any:
    """ainotes' GET of a note (notes/routes.py, get_note), without the note."""
    response.headers["ETag"] = etag_for(3)
    note = {**_SUMMARY, "id": note_id, "workspace_id": access, "body": _BODY}
    return NoteDetail.model_validate({**note, "attachments": []})


# The query parameters of ainotes' listing (notes/routes.py, list_notes), as declared there.
@app.get("/v1/workspaces/{workspace_id}/notes", response_model=Page[NoteSummary])
async def list_notes(
    access: Access,
    session: Session,
    tag: Annotated[
        str | None, Query(max_length=200, description="Only notes with this tag.")
    ] = None,
    pinned: bool | None = None,
    archived: bool | None = None,
    updated_after: Annotated[
        UtcInstant | None,
        Query(description="Only notes changed after this instant (with a UTC offset)."),
    ] = None,
    trashed: Annotated[bool, Query(description="List the trash instead of live notes.")] = False,
    sort: NoteSort = NoteSort.UPDATED_AT,
    order: SortOrder = SortOrder.DESC,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
    limit: Annotated[int, Query(ge=1, le=_SETTINGS.max_page_size)] = _SETTINGS.default_page_size,
) -> Any:
    """ainotes' first page of a listing, without the rows: the same 50 summaries, ready."""
    items = [{**_SUMMARY, "id": note_id} for note_id in _PAGE_IDS[:limit]]
    return Page[NoteSummary].model_validate({"items": items, "next_cursor": _PAGE_IDS[-1]})


@app.get("/ready")
async def ready() -> dict[str, str]:
    return {"status": "ready"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    # The same uvicorn options as ``ainotes serve``, so that only the application differs: the
    # event loop too, chosen from the same AINOTES_* environment (ainotes.app.served_event_loop).
    uvicorn.run(
        app,
        loop=served_event_loop(Settings()),
        host="127.0.0.1",
        port=args.port,
        workers=1,
        log_level="warning",
        access_log=False,
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
