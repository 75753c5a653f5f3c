"""Liveness and readiness probes."""

from typing import Literal

from fastapi import FastAPI, Request, Response

from ainotes.core.db import get_database
from ainotes.core.errors import ServiceUnavailable, problem_responses
from ainotes.core.migrations import current_revision, head_revision
from ainotes.core.schemas import Schema


class Health(Schema):
    status: Literal["ok"]


class Readiness(Schema):
    status: Literal["ready"]
    database: str
    revision: str


class NotReady(ServiceUnavailable):
    slug = "not-ready"
    title = "Not ready"


# Rendered once: a probe polled many times a second should cost the framework and nothing more.
_HEALTHY = b'{"status":"ok"}'


async def health() -> Response:
    """The process is up. Does no I/O, so that it is cheap enough to poll often."""
    return Response(_HEALTHY, media_type="application/json")


async def ready(request: Request) -> Readiness:
    """The database is reachable and its schema is at the newest migration."""
    database = get_database(request)
    try:
        async with database.read_engine.connect() as connection:
            revision = await connection.run_sync(current_revision)
    except Exception as error:
        raise NotReady(f"The database is not reachable: {type(error).__name__}.") from None
    head = head_revision()
    if revision != head:
        raise NotReady(
            f"The database schema is at {revision or 'no revision'}, not {head}; "
            "run 'ainotes db upgrade'."
        )
    return Readiness(status="ready", database=database.read_engine.dialect.name, revision=revision)


def install(app: FastAPI) -> None:
    """Serve the probes from the application's own route table, ahead of the API's routes:
    a probe polled many times a second should cost what a bare route does."""
    app.add_api_route("/health", health, response_model=Health, tags=["health"])
    app.add_api_route(
        "/ready",
        ready,
        response_model=Readiness,
        responses=problem_responses(NotReady, authenticated=False),
        tags=["health"],
    )
