"""One error model: RFC 9457 problem details for every error the API returns.

Services raise ``ProblemError`` subclasses; the handlers registered by ``install_error_handlers``
render them, FastAPI's validation errors, unknown routes, 405s and unexpected exceptions alike,
always with ``instance`` and ``request_id``.
"""

import re
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any, ClassVar

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from ainotes.core.context import current_request_id

logger = structlog.get_logger("ainotes.errors")
PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://ainotes.dev/problems/"


class ProblemDetail(BaseModel):
    """RFC 9457 problem details, as every error response of the API carries them."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="Stable URI naming the kind of problem.")
    title: str = Field(description="Short summary of the kind of problem.")
    status: int = Field(description="HTTP status code.")
    detail: str = Field(description="What went wrong with this request, for a person.")
    instance: str = Field(description="The request path the problem occurred on.")
    request_id: str = Field(description="Id of the request, as in the X-Request-ID header.")


class ProblemError(Exception):
    """Base of every error a service raises on purpose.

    Subclasses set ``slug``, ``status`` and ``title``; an instance carries ``detail`` and any
    extension members (e.g. ``current_version``).
    """

    slug: ClassVar[str] = "internal-error"
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal server error"
    # A refusal that records why it refused (a proposal found stale is marked stale): the
    # request's transaction commits what was written before the error instead of rolling back.
    commits_transaction: ClassVar[bool] = False

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        self.detail = detail or self.title
        self.headers = dict(headers or {})
        self.extensions = extensions
        super().__init__(self.detail)

    @classmethod
    def type_uri(cls) -> str:
        return PROBLEM_TYPE_BASE + cls.slug


class BadRequest(ProblemError):
    slug = "bad-request"
    status = 400
    title = "Bad request"


class InvalidCorrelationHeader(BadRequest):
    slug = "invalid-correlation-header"
    title = "Invalid correlation header"


class MalformedBody(ProblemError):
    slug = "malformed-body"
    status = 400
    title = "Malformed request body"


class Unauthenticated(ProblemError):
    slug = "unauthenticated"
    status = 401
    title = "Authentication required"


class Forbidden(ProblemError):
    slug = "forbidden"
    status = 403
    title = "Forbidden"


class NotFound(ProblemError):
    slug = "not-found"
    status = 404
    title = "Not found"


class MethodNotAllowed(ProblemError):
    slug = "method-not-allowed"
    status = 405
    title = "Method not allowed"


class Conflict(ProblemError):
    slug = "conflict"
    status = 409
    title = "Conflict"


class PreconditionFailed(ProblemError):
    slug = "precondition-failed"
    status = 412
    title = "Precondition failed"


class ContentTooLarge(ProblemError):
    slug = "content-too-large"
    status = 413
    title = "Content too large"


class UnsupportedMediaType(ProblemError):
    slug = "unsupported-media-type"
    status = 415
    title = "Unsupported media type"


class ValidationFailed(ProblemError):
    slug = "validation-failed"
    status = 422
    title = "Validation failed"


class ServiceUnavailable(ProblemError):
    slug = "service-unavailable"
    status = 503
    title = "Service unavailable"


class BodyTooLarge(StarletteHTTPException):
    """Raised while a body streams in past the limit. It is an HTTPException because FastAPI
    re-raises those from body parsing (anything else becomes a generic 400)."""

    def __init__(self) -> None:
        super().__init__(status_code=413)


NUL_IN_TEXT = "Text in this API may not contain the NUL character (U+0000)."


class NulInText(StarletteHTTPException):
    """Raised while a JSON body that holds an escaped NUL character streams in, or for a query
    with one. PostgreSQL's text cannot store it, so the API takes no text with it on SQLite
    either. An HTTPException for the reason BodyTooLarge is one."""

    def __init__(self, location: str) -> None:
        super().__init__(status_code=422, detail=NUL_IN_TEXT)
        self.location = location


def nul_in_text_errors(location: str) -> list[dict[str, Any]]:
    """The ``errors`` member of the 422 for a NUL in the body or the query."""
    return [{"loc": [location], "msg": NUL_IN_TEXT, "type": "string_nul"}]


# Starlette raises HTTPException with a bare status for routing and body-limit failures.
_PROBLEM_FOR_STATUS: dict[int, type[ProblemError]] = {
    cls.status: cls
    for cls in (
        BadRequest,
        Unauthenticated,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        Conflict,
        PreconditionFailed,
        ContentTooLarge,
        UnsupportedMediaType,
        ValidationFailed,
        ServiceUnavailable,
    )
}


def _problem_class_for_status(status: int) -> type[ProblemError]:
    phrase = HTTPStatus(status).phrase
    attributes = {
        "slug": phrase.lower().replace(" ", "-"),
        "status": status,
        "title": phrase,
    }
    return type("HttpProblem", (ProblemError,), attributes)


def problem_response(request: Request, error: ProblemError) -> JSONResponse:
    body: dict[str, Any] = {
        **error.extensions,
        "type": error.type_uri(),
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
        "instance": request.url.path,
        "request_id": current_request_id(),
    }
    return JSONResponse(
        body,
        status_code=error.status,
        media_type=PROBLEM_CONTENT_TYPE,
        headers=error.headers,
    )


async def _handle_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(request, exc)


def _describe_validation_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    described = []
    for error in errors:
        described.append(
            {
                "loc": [str(part) for part in error.get("loc", ())],
                "msg": str(error.get("msg", "")),
                "type": str(error.get("type", "")),
            }
        )
    return described


def is_json_media_type(content_type: str | None) -> bool:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


async def _handle_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    content_type = request.headers.get("content-type")
    if any(error.get("type") == "json_invalid" for error in errors):
        problem: ProblemError = MalformedBody("The request body is not valid JSON.")
    elif not is_json_media_type(content_type) and any(
        tuple(error.get("loc", ())) == ("body",) for error in errors
    ):
        # FastAPI reads a body as JSON only when it says it is; any other body fails the
        # body's model as a whole.
        problem = UnsupportedMediaType(
            f"The request body must be JSON, sent as application/json, not {content_type}."
            if content_type
            else "The request body must be JSON, sent with Content-Type: application/json."
        )
    else:
        summary = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in errors[:5]
        )
        problem = ValidationFailed(
            f"The request is invalid: {summary}",
            errors=_describe_validation_errors(errors),
        )
    return problem_response(request, problem)


async def _handle_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    problem_class = _PROBLEM_FOR_STATUS.get(exc.status_code)
    headers = dict(exc.headers or {})
    if problem_class is None:
        problem_class = _problem_class_for_status(exc.status_code)
    detail = {
        404: f"No route matches {request.method} {request.url.path}.",
        405: f"{request.method} is not allowed on {request.url.path}.",
        413: "The request body exceeds the maximum size this server accepts.",
    }.get(exc.status_code, str(exc.detail))
    if exc.status_code == 405:
        # Starlette names the methods of the first route that matched the path only.
        headers["Allow"] = ", ".join(_allowed_methods(request))
    extensions: dict[str, Any] = {}
    if isinstance(exc, NulInText):
        extensions["errors"] = nul_in_text_errors(exc.location)
    return problem_response(request, problem_class(detail, headers=headers, **extensions))


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route of the application answers on the request's path."""
    state = request.app.state
    index: list[tuple[re.Pattern[str], frozenset[str]]] | None = getattr(
        state, "routes_by_path", None
    )
    if index is None:
        index = state.routes_by_path = [
            (compile_path(context.path)[0], frozenset(context.methods or ()))
            for context in iter_route_contexts(request.app.routes)
            if context.path is not None and context.methods
        ]
    # Routes match the path below the application's mount point, as Starlette routes it.
    path, root_path = request.scope["path"], request.scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        path = path[len(root_path) :]
    allowed = {method for pattern, methods in index if pattern.match(path) for method in methods}
    if "GET" in allowed:
        # HEAD is answered wherever GET is (core/middleware.py).
        allowed.add("HEAD")
    return sorted(allowed)


class DatabaseBusy(ServiceUnavailable):
    slug = "database-busy"
    title = "Database busy"


# PostgreSQL's deadlock_detected and serialization_failure: the transaction was rolled back
# whole and can be retried as it is.
_RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})


def _is_retryable(exc: Exception) -> bool:
    if isinstance(exc, PoolTimeout):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        # The database dropped the connection (a restart): the pool has discarded it.
        return True
    if getattr(exc.orig, "sqlstate", None) in _RETRYABLE_SQLSTATES:
        return True
    return isinstance(exc, OperationalError) and "locked" in str(exc.orig).lower()


# PostgreSQL's character_not_in_repertoire and untranslatable_character: text it cannot store
# (a NUL) that got past the checks on the way in.
_UNSTORABLE_TEXT_SQLSTATES = frozenset({"22021", "22P05"})


async def _handle_database_busy(request: Request, exc: Exception) -> JSONResponse:
    """Running out of pooled connections, a SQLite writer waiting past its busy timeout, a
    PostgreSQL transaction rolled back to break a deadlock, or a connection the database
    dropped, is not a bug in the request: the client may retry."""
    if isinstance(exc, DBAPIError) and (
        getattr(exc.orig, "sqlstate", None) in _UNSTORABLE_TEXT_SQLSTATES
    ):
        return problem_response(request, ValidationFailed(NUL_IN_TEXT))
    if not _is_retryable(exc):
        raise exc
    logger.warning("database busy", error=type(exc).__name__)
    return problem_response(
        request,
        DatabaseBusy(
            "The database is busy with other requests; retry shortly.",
            headers={"Retry-After": "1"},
        ),
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _handle_problem)
    app.add_exception_handler(PoolTimeout, _handle_database_busy)
    app.add_exception_handler(DBAPIError, _handle_database_busy)
    app.add_exception_handler(RequestValidationError, _handle_validation)
    app.add_exception_handler(StarletteHTTPException, _handle_http_exception)
    # Unexpected exceptions are turned into 500 problems by RequestContextMiddleware, which
    # (unlike Starlette's ServerErrorMiddleware) sits inside the request-id scope.


def problem_responses(
    *errors: type[ProblemError], authenticated: bool = True
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for a route: each status it may answer with, as problem details."""
    defaults: tuple[type[ProblemError], ...] = (ValidationFailed,)
    if authenticated:
        defaults += (Unauthenticated,)
    by_status: dict[int, list[type[ProblemError]]] = {}
    for error in (*errors, *defaults):
        by_status.setdefault(error.status, []).append(error)
    return {status: _problem_response_doc(classes) for status, classes in sorted(by_status.items())}


def also_document(responses: dict[int | str, Any], error: type[ProblemError]) -> None:
    """Add ``error`` to a route's documented ``responses``: to the description of its status
    when the route documents other problems of that status, else as a response of its own."""
    # Keyed by int in a route's declaration, by str in a generated document.
    key = next((k for k in (error.status, str(error.status)) if k in responses), None)
    mention = f"{error.title} ({error.type_uri()})"
    if key is None:
        textual = any(isinstance(k, str) for k in responses)
        responses[str(error.status) if textual else error.status] = _problem_response_doc([error])
        return
    description = responses[key].get("description", "")
    if mention not in description:
        responses[key] = {
            **responses[key],
            "description": f"{description} / {mention}" if description else mention,
        }


def _problem_response_doc(classes: Iterable[type[ProblemError]]) -> dict[str, Any]:
    unique = list(dict.fromkeys(classes))
    # No "model": FastAPI would document it as application/json too, which errors never are.
    # The ProblemDetail component is registered once by the application factory.
    return {
        "content": {
            PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemDetail"}}
        },
        "description": " / ".join(f"{c.title} ({c.type_uri()})" for c in unique),
    }
