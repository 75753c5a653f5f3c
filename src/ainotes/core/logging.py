"""structlog setup: JSON lines, or a readable console format when attached to a terminal."""

import logging
import sys
from typing import Any

import structlog

from ainotes.core.context import get_request_context


def _add_request_context(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    context = get_request_context()
    if context is not None:
        event_dict.setdefault("request_id", context.request_id)
        if context.correlation_id:
            event_dict.setdefault("correlation_id", context.correlation_id)
        if context.trace_id:
            event_dict.setdefault("trace_id", context.trace_id)
        if context.workflow_id:
            event_dict.setdefault("workflow_id", context.workflow_id)
    return event_dict


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at the time of the write, not at setup, so that
    streams swapped in later (a test's capture, a re-opened daemon stream) get the logs."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(level: str = "info", log_format: str = "auto") -> None:
    use_console = log_format == "console" or (log_format == "auto" and sys.stderr.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        _add_request_context,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any
    if use_console:
        # Plain tracebacks: rich's would print local variables, bearer tokens among them.
        renderer = structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
    else:
        shared.append(structlog.processors.format_exc_info)
        renderer = structlog.processors.JSONRenderer()
    numeric_level = logging.getLevelNamesMapping()[level.upper()]
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        # Every create_app() configures logging again; cached loggers would keep the level and
        # renderer of whichever configuration they first met.
        cache_logger_on_first_use=False,
    )
    # Route stdlib loggers (uvicorn, alembic, sqlalchemy) through the same renderer.
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            renderer,
        ],
    )
    handler = logging.StreamHandler(_CurrentStderr())
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(numeric_level)
    # The access line comes from our middleware; uvicorn's own would say it twice.
    logging.getLogger("uvicorn.access").disabled = True
