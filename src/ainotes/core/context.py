"""Per-request context (request and correlation ids), visible to logs, errors and services."""

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RequestContext:
    request_id: str
    client_ip: str | None = None
    user_agent: str | None = None
    correlation_id: str | None = None
    trace_id: str | None = None
    workflow_id: str | None = None
    workflow_step: str | None = None


_request_context: ContextVar[RequestContext | None] = ContextVar("request_context", default=None)


def set_request_context(context: RequestContext) -> None:
    _request_context.set(context)


def get_request_context() -> RequestContext | None:
    return _request_context.get()


def current_request_id() -> str:
    context = _request_context.get()
    return context.request_id if context else "-"


# Set while an idempotent request runs, so that the audit events it writes name its key.
_idempotency_key_hash: ContextVar[str | None] = ContextVar("idempotency_key_hash", default=None)


def set_idempotency_key_hash(value: str | None) -> None:
    _idempotency_key_hash.set(value)


def current_idempotency_key_hash() -> str | None:
    return _idempotency_key_hash.get()
