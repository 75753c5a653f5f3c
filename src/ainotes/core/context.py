"""Per-request context (request and correlation ids), visible to logs, errors and services."""

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import NamedTuple


class RequestContext(NamedTuple):
    """Immutable, as a frozen dataclass would be, and made on every request: a NamedTuple is
    built in a third of the time."""

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


@contextlib.contextmanager
def in_workflow(workflow_id: str | None, workflow_step: str | None) -> Iterator[None]:
    """Within the block, what is recorded names this workflow instead of the request's own:
    applying a proposal belongs to the agent workflow that submitted it, while the request id
    stays the approver's."""
    context = _request_context.get()
    if context is None or workflow_id is None:
        yield
        return
    token = _request_context.set(
        context._replace(workflow_id=workflow_id, workflow_step=workflow_step)
    )
    try:
        yield
    finally:
        _request_context.reset(token)


def current_request_id() -> str:
    context = _request_context.get()
    return context.request_id if context else "-"


# Set while an idempotent request runs, so that the audit events it writes name its key.
_idempotency_key_hash: ContextVar[str | None] = ContextVar("idempotency_key_hash", default=None)


def set_idempotency_key_hash(value: str | None) -> None:
    _idempotency_key_hash.set(value)


def current_idempotency_key_hash() -> str | None:
    return _idempotency_key_hash.get()
