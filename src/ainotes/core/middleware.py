"""Pure ASGI middleware for the hot path: request/correlation ids and the access log line.

Written against the raw ASGI interface rather than ``BaseHTTPMiddleware`` because the latter
runs every request through an extra task and memory stream, which costs throughput.
"""

import logging
import re
import time
from collections.abc import Callable
from typing import Any

import structlog
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ainotes.core.context import RequestContext, set_request_context
from ainotes.core.errors import (
    NUL_IN_TEXT,
    BodyTooLarge,
    ContentTooLarge,
    InvalidCorrelationHeader,
    NulInText,
    ProblemError,
    ValidationFailed,
    is_json_media_type,
    nul_in_text_errors,
    problem_response,
)
from ainotes.core.ids import new_id

REQUEST_ID_HEADER = "x-request-id"
_HEAD_SCOPE_KEY = "ainotes.head"
# Accepted from clients as-is; anything else is replaced so that logs cannot be forged.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
# Correlation headers agents send to tie requests to their workflows. Unlike X-Request-ID
# (replaced when malformed, as proxies do), a malformed one is refused: an agent relies on
# them for provenance, and dropping one silently would lose it.
_CORRELATION_HEADERS = {
    b"x-correlation-id": re.compile(r"^[A-Za-z0-9._:/\-]{1,128}$"),
    b"x-workflow-id": re.compile(r"^[A-Za-z0-9._:/\-]{1,128}$"),
    b"x-workflow-step": re.compile(r"^[A-Za-z0-9._:/\-]{1,64}$"),
}
# W3C Trace Context: version-traceid-parentid-flags.
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")
_HEADER_DESCRIPTIONS = {
    "X-Request-ID": "This request's id, echoed in the response, its log lines and any problem: "
    "1 to 128 letters, digits and . _ : -; one of another form is replaced by a new id.",
    "X-Correlation-ID": "Ties this request to others of one piece of work (an agent's run); "
    "echoed in the response, logged, and recorded with every audit event it causes. "
    "Of another form: 400.",
    "X-Workflow-ID": "The agent workflow that caused this request, recorded with its audit "
    "events; those of a decision on a proposal (approving, rejecting, applying it) record "
    "the proposal's own workflow instead. Of another form: 400.",
    "X-Workflow-Step": "The step of that workflow, recorded likewise. Of another form: 400.",
    "traceparent": "A W3C Trace Context parent (version-traceid-parentid-flags, in lower-case "
    "hex); its trace id is logged with the request. One of another form starts a new trace.",
}


def documented_headers() -> list[dict[str, Any]]:
    """OpenAPI parameters for the headers this middleware reads on every request. Those it
    refuses when malformed carry the pattern it holds them to; those it replaces or ignores
    take any value, their form given in words."""
    refused = {
        "X-Correlation-ID": _CORRELATION_HEADERS[b"x-correlation-id"],
        "X-Workflow-ID": _CORRELATION_HEADERS[b"x-workflow-id"],
        "X-Workflow-Step": _CORRELATION_HEADERS[b"x-workflow-step"],
    }
    return [
        {
            "name": name,
            "in": "header",
            "required": False,
            "description": description,
            "schema": (
                {"type": "string", "pattern": refused[name].pattern}
                if name in refused
                else {"type": "string"}
            ),
        }
        for name, description in _HEADER_DESCRIPTIONS.items()
    ]


access_logger = structlog.get_logger("ainotes.access")
error_logger = structlog.get_logger("ainotes.errors")

BODY_TOO_LARGE = "The request body exceeds the maximum size this server accepts."
UNEXPECTED_ERROR = "An unexpected error occurred; it has been logged."


def answering_head(request: Request) -> bool:
    """Whether this GET answers a HEAD: for routes whose body is costly to produce (a stored
    file), so that they can leave it out; the middleware drops any body a HEAD is given."""
    return bool(request.scope.get(_HEAD_SCOPE_KEY))


def _too_long(declared_length: bytes, limit: int) -> bool:
    try:
        return int(declared_length) > limit
    except ValueError:
        return False


async def _send_problem(
    scope: Scope,
    receive: Receive,
    send: Send,
    error: ProblemError,
    wrap: Callable[[ASGIApp], ASGIApp] | None = None,
) -> None:
    response: ASGIApp = problem_response(Request(scope, receive), error)
    if wrap is not None:
        response = wrap(response)
    await response(scope, receive, send)


# JSON writes a NUL only escaped; a raw one makes the body malformed.
_ESCAPED_NUL = b"u0000"
_BACKSLASH = 0x5C


def _has_escaped_nul(data: bytes) -> bool:
    """Whether JSON text ``data`` escapes a NUL: ``\\u0000`` after an odd number of
    backslashes (after an even number, the backslashes are text and so is the "u0000")."""
    at = data.find(_ESCAPED_NUL)
    while at != -1:
        start = at
        while start > 0 and data[start - 1] == _BACKSLASH:
            start -= 1
        if (at - start) % 2 == 1:
            return True
        at = data.find(_ESCAPED_NUL, at + 1)
    return False


class _NulScanner:
    """Looks for an escaped NUL in JSON text that arrives in chunks. What it keeps of a chunk
    for the next: its last bytes, in which an escape may begin, and before them the parity of
    the run of backslashes that precedes them (one backslash or none), which decides whether
    that escape is one."""

    def __init__(self) -> None:
        self._tail = b""

    def found_in(self, chunk: bytes) -> bool:
        data = self._tail + chunk
        if _has_escaped_nul(data):
            return True
        kept = max(len(data) - len(_ESCAPED_NUL), 0)
        run = kept
        while run > 0 and data[run - 1] == _BACKSLASH:
            run -= 1
        self._tail = b"\\" * ((kept - run) % 2) + data[kept:]
        return False


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")


def _safe(value: bytes | None) -> str | None:
    if value is None:
        return None
    text = value.decode("latin-1")
    return text if _SAFE_ID.fullmatch(text) else None


def _invalid_correlation_header(headers: dict[bytes, bytes]) -> str | None:
    for name, pattern in _CORRELATION_HEADERS.items():
        value = headers.get(name)
        if value is not None and not pattern.fullmatch(value.decode("latin-1")):
            return name.decode()
    return None


def _trace_id(traceparent: bytes | None) -> str | None:
    """The trace id of a valid W3C traceparent; anything else starts a new trace."""
    if traceparent is None:
        return None
    match = _TRACEPARENT.fullmatch(traceparent.decode("latin-1").strip(" \t"))
    if match is None or match.group(1) == "0" * 32 or match.group(2) == "0" * 16:
        return None
    if match.group(0)[:2] == "ff":
        return None
    return match.group(1)


class RequestContextMiddleware:
    """Sets the request context, echoes the ids, logs one access line, and turns what escapes
    every handler into a 500 problem that still carries the request id.

    It also enforces ``max_body_bytes``: a declared ``Content-Length`` above it is refused before
    routing, and a body without one is counted as it streams in.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        upload_path: re.Pattern[str] | None = None,
        max_upload_bytes: int = 0,
        form_framing_bytes: int = 0,
        wrap_own_answers: Callable[[ASGIApp], ASGIApp] | None = None,
    ) -> None:
        self.app = app
        # What the problems this middleware answers itself go through: the middleware that
        # runs inside this one (CORS), which those answers would otherwise miss.
        self.wrap_own_answers = wrap_own_answers
        self.max_body_bytes = max_body_bytes
        # Paths that take file uploads get their own, larger limit; a multipart form gets
        # room for its framing on top, so that a file at the limit fits in a form too.
        self.upload_path = upload_path
        self.max_upload_bytes = max_upload_bytes
        self.form_framing_bytes = form_framing_bytes
        # Bound now, after the application configured logging: the module-level proxy would
        # look up the configuration again on every request.
        self.access_logger = access_logger.bind()
        self.logs_access = self.access_logger.is_enabled_for(logging.INFO)

    def _body_limit(self, is_upload: bool, headers: dict[bytes, bytes]) -> int:
        if is_upload:
            content_type = headers.get(b"content-type", b"").lower()
            if content_type.startswith(b"multipart/form-data"):
                return self.max_upload_bytes + self.form_framing_bytes
            return self.max_upload_bytes
        return self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method == "HEAD":
            # HEAD is GET without the body (RFC 9110, 9.3.2): the routes answer it as GET and
            # the body is dropped on the way out. A copy, so that the server still sees HEAD.
            scope = {**scope, "method": "GET", _HEAD_SCOPE_KEY: True}
        headers: dict[bytes, bytes] = dict(scope["headers"])
        request_id = _safe(headers.get(b"x-request-id")) or new_id()
        invalid_header = _invalid_correlation_header(headers)
        client = scope.get("client")
        user_agent = headers.get(b"user-agent")
        context = RequestContext(
            request_id=request_id,
            client_ip=client[0] if client else None,
            user_agent=user_agent.decode("latin-1")[:512] if user_agent else None,
            correlation_id=None if invalid_header else _text(headers.get(b"x-correlation-id")),
            trace_id=_trace_id(headers.get(b"traceparent")),
            workflow_id=None if invalid_header else _text(headers.get(b"x-workflow-id")),
            workflow_step=None if invalid_header else _text(headers.get(b"x-workflow-step")),
        )
        set_request_context(context)
        scope.setdefault("state", {})["request_context"] = context
        echoed = [(b"x-request-id", request_id.encode())]
        if context.correlation_id:
            echoed.append((b"x-correlation-id", context.correlation_id.encode()))
        status = 500
        response_started = False
        received = 0
        is_upload = self.upload_path is not None and bool(self.upload_path.fullmatch(scope["path"]))
        body_limit = self._body_limit(is_upload, headers)
        content_type = headers.get(b"content-type")
        # Text of the API, not an uploaded file's bytes, which may be JSON holding anything.
        nul_scanner = (
            _NulScanner()
            if not is_upload
            and content_type is not None
            and is_json_media_type(content_type.decode("latin-1"))
            else None
        )

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                received += len(chunk)
                if received > body_limit:
                    raise BodyTooLarge()
                if nul_scanner is not None and chunk and nul_scanner.found_in(chunk):
                    raise NulInText("body")
            return message

        started = time.perf_counter()

        async def send_with_ids(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message["headers"] = [*message.get("headers", ()), *echoed]
            elif method == "HEAD":
                message = {**message, "body": b""}
            await send(message)

        try:
            declared_length = headers.get(b"content-length")
            if invalid_header is not None:
                await _send_problem(
                    scope,
                    receive,
                    send_with_ids,
                    InvalidCorrelationHeader(
                        f"The {invalid_header} header must be 1 to "
                        f"{64 if invalid_header == 'x-workflow-step' else 128} characters of "
                        "letters, digits and . _ : / -",
                        header=invalid_header,
                    ),
                    self.wrap_own_answers,
                )
            elif declared_length is not None and _too_long(declared_length, body_limit):
                await _send_problem(
                    scope,
                    receive,
                    send_with_ids,
                    ContentTooLarge(BODY_TOO_LARGE),
                    self.wrap_own_answers,
                )
            elif b"%00" in scope["query_string"]:
                await _send_problem(
                    scope,
                    receive,
                    send_with_ids,
                    ValidationFailed(
                        NUL_IN_TEXT,
                        errors=nul_in_text_errors("query"),
                    ),
                    self.wrap_own_answers,
                )
            else:
                await self.app(scope, receive_within_limit, send_with_ids)
        except Exception as exc:
            error_logger.exception("unhandled exception", exc_info=exc)
            if response_started:
                raise
            await _send_problem(
                scope,
                receive,
                send_with_ids,
                ProblemError(UNEXPECTED_ERROR),
                self.wrap_own_answers,
            )
        finally:
            if self.logs_access:
                self._log_access(method, scope, status, started)

    def _log_access(self, method: str, scope: Scope, status: int, started: float) -> None:
        route: Any = scope.get("route")
        state: dict[str, Any] = scope.get("state", {})
        self.access_logger.info(
            "request",
            method=method,
            route=getattr(route, "path", None) or "<unmatched>",
            status=status,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
            principal_id=state.get("principal_id"),
        )
