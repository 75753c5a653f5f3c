"""The baseline of ``python -m bench agents``: ainotes served exactly as ``ainotes serve`` serves
it (migrations, the same uvicorn options, ``ainotes.app:create_app``), except that recording an
audit event does nothing.

Every service records through the module attribute (``audit.record(...)``, never a name
imported from it), so replacing ``ainotes.core.audit.record`` before the app is built reaches
every caller. No chain head is locked or advanced and no event row is written. Requests sent
without ``Idempotency-Key`` skip the idempotency claim as well, which makes this server with
such requests the write "without audit log and idempotency" that the shipped one is compared
with.

uvicorn runs the app in this process only with one worker (more would start fresh processes
that never see the patch), so other worker counts are refused.
"""

import argparse
from typing import Any

from ainotes.core import audit


async def _no_record(*args: Any, **kwargs: Any) -> None:  # noqa: ARG001
    return None


def disable_audit() -> None:
    audit.record = _no_record


def create_app() -> Any:
    """For ``uvicorn --factory bench.no_audit_app:create_app``; ``main`` is the usual way."""
    disable_audit()
    from ainotes.app import create_app as create

    return create()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.no_audit_app")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)

    from ainotes import cli
    from ainotes.core.config import get_settings

    if get_settings().workers != 1:
        raise SystemExit("bench.no_audit_app needs AINOTES_WORKERS=1: the patch is per process")
    disable_audit()
    cli.serve(host=None, port=args.port, workers=1)


if __name__ == "__main__":
    main()
