"""The application factory: ``create_app(settings)`` builds everything; importing does nothing."""

import gc
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial
from typing import Any, Literal, NoReturn

import swagger_ui_bundle
from fastapi import APIRouter, FastAPI, Request
from fastapi.datastructures import DefaultPlaceholder
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from fastapi.telemetry import TelemetryConfig
from starlette.types import ASGIApp

from ainotes import __version__
from ainotes.agent_actions import routes as agent_actions_routes
from ainotes.artifacts import routes as artifacts_routes
from ainotes.attachments import routes as attachments_routes
from ainotes.auth import routes as auth_routes
from ainotes.auth import service as auth_service
from ainotes.auth.jwt import JwtVerifier
from ainotes.core import health
from ainotes.core.config import Settings, get_settings
from ainotes.core.db import Database, runs_sqlite_inline
from ainotes.core.errors import (
    ContentTooLarge,
    DatabaseBusy,
    InvalidCorrelationHeader,
    ProblemDetail,
    ProblemError,
    also_document,
    install_error_handlers,
)
from ainotes.core.idempotency import MUTATING_METHODS, IdempotencyConfig, PrincipalResolver
from ainotes.core.logging import configure_logging
from ainotes.core.middleware import RequestContextMiddleware, documented_headers
from ainotes.core.openapi import header_docs
from ainotes.core.principal import Principal
from ainotes.notes import events as note_events
from ainotes.notes import routes as notes_routes
from ainotes.relationships import routes as relationships_routes
from ainotes.relationships import service as relationships_service
from ainotes.search import routes as search_routes
from ainotes.search import service as search_service
from ainotes.tasks import routes as tasks_routes
from ainotes.tasks import service as tasks_service
from ainotes.workspaces import routes as workspaces_routes

# POST /v1/workspaces/{id}/attachments streams files; it gets max_attachment_bytes, plus room
# for a multipart form's framing (boundaries and part headers). The file itself is held to
# the limit by the upload route.
UPLOAD_PATH = re.compile(r"/v1/workspaces/[^/]+/attachments/?")
FORM_FRAMING_BYTES = 64 * 1024
DOCUMENTED_TAG_ORDER = (
    "health",
    "users and tokens",
    "workspaces",
    "notes",
    "relationships",
    "tasks",
    "artifacts",
    "attachments",
    "search",
    "audit",
    "agents",
    "proposals",
)

DESCRIPTION = """\
ainotes stores, versions, links and searches markdown notes in shared workspaces.

Every error is an RFC 9457 `application/problem+json` body with a stable `type`, a `detail`
for people, and the `request_id` that also appears in the `X-Request-ID` header and the logs.
Authenticate with `Authorization: Bearer <token>`.
"""


# FastAPI's native OpenTelemetry, off unless AINOTES_OPENTELEMETRY asks for it.
TELEMETRY_OFF: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_format)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(settings)
        app.state.database = database
        app.state.idempotency = IdempotencyConfig(
            database=database,
            resolve_principal=_principal_resolver(database, app.state.jwt_verifier),
            ttl=timedelta(hours=settings.idempotency_ttl_hours),
            lock_timeout=timedelta(seconds=settings.idempotency_lock_timeout_seconds),
            requires_key=_is_agent_request,
        )
        try:
            yield
        finally:
            await app.state.database.dispose()

    app = FastAPI(
        title="ainotes",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_tags=[{"name": tag} for tag in DOCUMENTED_TAG_ORDER],
        telemetry=None if settings.opentelemetry else TELEMETRY_OFF,
    )
    app.state.settings = settings
    app.state.jwt_verifier = JwtVerifier(settings) if settings.jwt_enabled else None
    install_error_handlers(app)
    with_cors: Callable[[ASGIApp], ASGIApp] | None = None
    if settings.cors_origin_list:
        with_cors = partial(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["*"],
            expose_headers=EXPOSED_HEADERS,
            max_age=600,
        )
        # Added first, so it runs inside the request-id middleware: its answers, preflights
        # included, carry the request id too. The problems that middleware answers itself
        # (before routing) go through CORS on their own (wrap_own_answers), so that a browser
        # client can read them.
        app.add_middleware(with_cors)
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_request_body_bytes,
        upload_path=UPLOAD_PATH,
        max_upload_bytes=settings.max_attachment_bytes,
        form_framing_bytes=FORM_FRAMING_BYTES,
        wrap_own_answers=with_cors,
    )

    health.install(app)
    # A request is matched against the routes in this order: notes, the most requested, come
    # first. The documentation keeps its own order (openapi_tags).
    _serve_routes(
        app,
        notes_routes.build_router(settings),
        auth_routes.router,
        workspaces_routes.build_router(settings),
        relationships_routes.build_router(settings),
        tasks_routes.build_router(settings),
        artifacts_routes.build_router(settings),
        attachments_routes.build_router(settings),
        search_routes.build_router(settings),
        *agent_actions_routes.build_routers(settings),
    )
    subscribe_note_listeners()
    _install_offline_docs(app)
    _complete_openapi(app)
    return app


def _serve_routes(app: FastAPI, *routers: APIRouter) -> None:
    """The modules' routes, as the application's own.

    ``include_router`` keeps each router whole, and this FastAPI matches a request against an
    included router twice, through a layer of route contexts: a tenth of a GET of a note's CPU
    (0.018 of 0.18 ms in process). The routes an ``APIRouter`` builds are already complete,
    with the router's prefix, tags, dependencies, responses, body limit and route class, so
    they are served as ``@app.get`` routes are.

    What ``include_router`` alone would still apply is checked here, and startup fails on it:
    settings of the application's router that an inclusion hands down to the routes, a module
    router's form limits, lifespan, startup or shutdown handlers, and routes that are not API
    routes. And ``app.dependency_overrides`` would not reach these routes, so it refuses
    entries rather than be ignored."""
    default = APIRouter()
    refused = [
        f"the application's {name}"
        for name in _HANDED_DOWN
        if _setting(app.router, name) != _setting(default, name)
    ]
    for router in routers:
        owner = router.prefix or "a router"
        refused += [
            f"{owner}'s {name}"
            for name in ("form_limits", "on_startup", "on_shutdown")
            if getattr(router, name) != getattr(default, name)
        ]
        if type(router.lifespan_context) is not type(default.lifespan_context):
            refused.append(f"{owner}'s lifespan")
        # Frontend routes (APIRouter.frontend) are kept apart from ``routes``.
        if getattr(router, "_low_priority_routes", None) or not all(
            isinstance(route, APIRoute) for route in router.routes
        ):
            refused.append(f"{owner}'s routes other than API routes")
    if refused:
        raise RuntimeError("include_router is needed for " + ", ".join(refused))
    for router in routers:
        app.router.routes.extend(router.routes)
    app.dependency_overrides = NoDependencyOverrides()


# What include_router hands down from the including router to the routes it includes.
_HANDED_DOWN = (
    "prefix",
    "tags",
    "dependencies",
    "default_response_class",
    "responses",
    "callbacks",
    "deprecated",
    "include_in_schema",
    "generate_unique_id_function",
    "strict_content_type",
    "max_body_size",
)


def _setting(router: APIRouter, name: str) -> Any:
    value = getattr(router, name)
    return value.value if isinstance(value, DefaultPlaceholder) else value


class NoDependencyOverrides(dict[Callable[..., Any], Callable[..., Any]]):
    """``app.dependency_overrides``, always empty: FastAPI would not apply an override to the
    routes ``_serve_routes`` serves, and a test that set one would pass against the real
    dependency without knowing it. (ainotes' tests go through the real authentication and
    session anyway.)"""

    def _refuse(self, *_: object, **__: object) -> NoReturn:
        raise TypeError(
            "ainotes serves its routes as the application's own (ainotes.app._serve_routes), "
            "which dependency overrides do not reach"
        )

    __setitem__ = update = setdefault = __ior__ = _refuse


def served_event_loop(settings: Settings) -> Literal["asyncio", "auto"]:
    """The event loop ``ainotes serve`` runs: asyncio's own for SQLite run inline, uvloop
    (when installed) otherwise.

    An inline SQLite request runs to its end without giving the loop a turn. Under uvloop
    such requests are served unevenly across connections: at 32 connections a listing's p99
    was 850 ms for a p50 of 76, against 104 ms under asyncio's loop, at similar throughput
    (431 against 405 req/s); creates 1.4 s against 0.5. PostgreSQL requests wait for the
    server at every statement, and asyncpg's round trips were a little faster under uvloop
    (single runs: GET note 1,003 req/s against 954, creates 113 against 98)."""
    return "asyncio" if runs_sqlite_inline(settings) else "auto"


def create_served_app() -> FastAPI:
    """The application as ``ainotes serve`` runs it, in each worker process.

    Everything built at startup (modules, mapped classes, routes, validators: ~160,000 objects)
    is moved out of the garbage collector's generations, so that its collections scan what
    requests allocate rather than the whole application again; ``gc.freeze`` exists for
    long-running servers. Tests build many applications in one process and do not freeze."""
    app = create_app()
    gc.collect()
    gc.freeze()
    return app


# What a browser client may read of a response: ids to report, whether a write was replayed,
# versions for If-Match, where a created resource is, when to retry.
EXPOSED_HEADERS = [
    "X-Request-ID",
    "X-Correlation-ID",
    "Idempotent-Replayed",
    "ETag",
    "Location",
    "Retry-After",
]

# How long the Idempotency-Key layer remembers whose a token is. It only scopes keys: the
# route still authenticates the request in full, so a token revoked meanwhile gets its 401.
PRINCIPAL_MEMORY_SECONDS = 60.0
PRINCIPAL_MEMORY_SIZE = 10_000


def _principal_resolver(database: Database, verifier: JwtVerifier | None) -> PrincipalResolver:
    """Who sent a request, for scoping its Idempotency-Key; None when the token is not valid
    (the route itself then answers 401). Remembered for a minute per token, so that a write
    does not look its token up twice; ``fresh`` asks the database (before a replay, which no
    route authenticates)."""
    remembered: dict[str, tuple[float, Principal]] = {}

    async def resolve(request: Request, fresh: bool = False) -> Principal | None:
        scheme, _, secret = request.headers.get("authorization", "").partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret:
            return None
        token_hash = auth_service.hash_token(secret)
        now = time.monotonic()
        found = remembered.get(token_hash)
        if not fresh and found is not None and found[0] > now:
            return found[1]
        principal = await _principal_of(database, verifier, secret)
        if principal is not None:
            if len(remembered) >= PRINCIPAL_MEMORY_SIZE:
                remembered.clear()
            remembered[token_hash] = (now + PRINCIPAL_MEMORY_SECONDS, principal)
        return principal

    return resolve


async def _principal_of(
    database: Database, verifier: JwtVerifier | None, secret: str
) -> Principal | None:
    async with database.read_session() as session:
        if secret.startswith(auth_service.TOKEN_PREFIX):
            verified = await auth_service.verify_access_token(session, secret)
            return verified.principal if verified else None
        if verifier is None:
            return None
        try:
            _, user = await auth_service.verify_jwt(session, verifier, secret)
        except ProblemError:
            return None
        return auth_service.principal_for(user) if user is not None else None


def _is_agent_request(request: Request) -> bool:
    _, _, secret = request.headers.get("authorization", "").partition(" ")
    return secret.strip().startswith(auth_service.AGENT_TOKEN_PREFIX)


def subscribe_note_listeners() -> None:
    """Derived data (links, tasks, search) follows every note write in the same transaction."""
    note_events.subscribe(relationships_service.on_note_change)
    note_events.subscribe(tasks_service.on_note_change)
    note_events.subscribe(search_service.on_note_change)


def _install_offline_docs(app: FastAPI) -> None:
    """Serve Swagger UI from the installed package, so that /docs works without internet."""
    app.mount(
        "/docs/assets",
        StaticFiles(directory=swagger_ui_bundle.swagger_ui_path),
        name="docs-assets",
    )

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="ainotes API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
            # The validator badge would call an outside service.
            swagger_ui_parameters={"validatorUrl": None},
        )


# Headers problems of these statuses carry: the bearer challenge of a 401; when to retry a key
# still in use (409) or a busy database (503).
_HEADERS_OF_PROBLEMS = {"401": ["WWW-Authenticate"], "409": ["Retry-After"], "503": ["Retry-After"]}


def _without_null(parameter: dict[str, Any]) -> None:
    """A parameter is given as text or not at all: FastAPI documents ``T | None`` as "T or
    null", and a client generating requests from the document then sends the text "null".
    What makes it optional is ``required: false``."""
    schema = parameter.get("schema", {})
    branches = [b for b in schema.get("anyOf", []) if b.get("type") != "null"]
    if len(branches) == 1 and len(schema["anyOf"]) == 2:
        del schema["anyOf"]
        schema.update({**branches[0], **schema})


def _complete_openapi(app: FastAPI) -> None:
    """Add to the generated document what no route declares: ``ProblemDetail`` as a named
    component even if no route happened to reference it; parameters without "or null"; on
    every operation the headers the
    request-context middleware reads and the problems it answers before any route runs (a
    malformed correlation header, a declared body past the limit); and on every response
    the headers it echoes, on a write's success Idempotent-Replayed, and a 503 on every route
    that reads the database."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = original()
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            schemas.setdefault("ProblemDetail", ProblemDetail.model_json_schema())
            headers = documented_headers()
            for path, path_item in schema["paths"].items():
                for method, operation in path_item.items():
                    for parameter in operation.get("parameters", []):
                        _without_null(parameter)
                    operation["parameters"] = [*operation.get("parameters", []), *headers]
                    also_document(operation["responses"], InvalidCorrelationHeader)
                    # Past the body limit, whatever the route: a declared Content-Length is
                    # enough, with or without a body the route reads.
                    also_document(operation["responses"], ContentTooLarge)
                    if path.startswith("/v1/"):
                        # A busy or unreachable database, on any route that reads it.
                        also_document(operation["responses"], DatabaseBusy)
                    for status, response in operation["responses"].items():
                        echoed = ["X-Request-ID", "X-Correlation-ID"]
                        if method.upper() in MUTATING_METHODS and status.startswith("2"):
                            echoed.append("Idempotent-Replayed")
                        echoed += _HEADERS_OF_PROBLEMS.get(status, [])
                        response["headers"] = {
                            **response.get("headers", {}),
                            **header_docs(*echoed),
                        }
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
