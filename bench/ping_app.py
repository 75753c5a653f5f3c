"""The baseline: a bare FastAPI app with one route, served the way ``ainotes serve`` serves.

Every ainotes scenario is reported as a fraction of this app's throughput measured in the same
run, which cancels out most of the machine and the load generator.

The same app also serves two route-shape floors: ainotes' GET of a note and first page of a
listing as FastAPI sees them, taken from ainotes' own routes (their signatures, and their
access check's, with every parameter, the bearer scheme, and the response models), but with no
work behind them (no database, no access check: the session is a constant, the note and the
page are built from ready values). What a floor serves is the most that any implementation of
that route could serve within FastAPI with the route's shape (its parameters and dependencies).
"""

import argparse
import inspect
import typing
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import uvicorn
from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute

from ainotes.app import served_event_loop
from ainotes.core.concurrency import etag_for
from ainotes.core.config import Settings
from ainotes.core.schemas import Page
from ainotes.notes.routes import build_router as build_notes_router
from ainotes.notes.schemas import NoteDetail, NoteSummary

app = FastAPI()


@app.get("/ping")
async def ping() -> dict[str, str]:
    return {"ping": "pong"}


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


def _stand_in(
    function: Callable[..., Any], swapped: dict[str, Any], result: Callable[[dict[str, Any]], Any]
) -> Callable[..., Awaitable[Any]]:
    """A coroutine function with ``function``'s signature, the annotations of the parameters
    named in ``swapped`` replaced, that returns ``result`` of the values FastAPI passes it. So
    FastAPI parses, validates and resolves exactly what it does for ``function``."""
    signature = inspect.signature(function, eval_str=True)
    parameters = [
        parameter.replace(annotation=swapped[parameter.name])
        if parameter.name in swapped
        else parameter
        for parameter in signature.parameters.values()
    ]

    async def stand_in(**values: Any) -> Any:
        return result(values)

    stand_in.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    return stand_in


def _dependency_of(function: Callable[..., Any], parameter: str) -> Callable[..., Any]:
    annotation = inspect.signature(function, eval_str=True).parameters[parameter].annotation
    depends = next(m for m in typing.get_args(annotation)[1:] if hasattr(m, "dependency"))
    dependency: Callable[..., Any] = depends.dependency
    return dependency


def _floor(route: APIRoute, result: Callable[[dict[str, Any]], Any]) -> None:
    """``route`` as the baseline app's own, its session and its access check doing nothing
    (their own parameters, the bearer scheme's among them, still parsed and validated)."""
    check = _dependency_of(route.endpoint, "access")
    opened = _stand_in(_dependency_of(check, "session"), {}, lambda _: _Session())
    session = Annotated[_Session, Depends(opened)]
    no_check = _stand_in(check, {"session": session}, lambda values: values["workspace_id"])
    access = Annotated[str, Depends(no_check)]
    endpoint = _stand_in(route.endpoint, {"session": session, "access": access}, result)
    app.add_api_route(
        route.path,
        endpoint,
        methods=sorted(route.methods or ()),
        response_model=route.response_model,
    )


def _note(values: dict[str, Any]) -> NoteDetail:
    values["response"].headers["ETag"] = etag_for(3)
    note = {**_SUMMARY, "id": values["note_id"], "workspace_id": values["access"]}
    return NoteDetail.model_validate({**note, "body": _BODY, "attachments": []})


def _page(values: dict[str, Any]) -> Page[NoteSummary]:
    items = [{**_SUMMARY, "id": note_id} for note_id in _PAGE_IDS[: values["limit"]]]
    return Page[NoteSummary].model_validate({"items": items, "next_cursor": _PAGE_IDS[-1]})


# The environment's settings (page sizes), as the served app reads them.
SETTINGS = Settings()
_NOTES_ROUTES = {
    route.name: route
    for route in build_notes_router(SETTINGS).routes
    if isinstance(route, APIRoute)
}
# ainotes' GET of a note without the note, and its first page of a listing without the rows:
# the same 50 summaries, ready.
_floor(_NOTES_ROUTES["get_note"], _note)
_floor(_NOTES_ROUTES["list_notes"], _page)


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
