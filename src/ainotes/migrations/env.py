"""Alembic environment: one history for SQLite and PostgreSQL, run with the async engine."""

import asyncio

from alembic import context
from sqlalchemy import Connection, pool
from sqlalchemy.ext.asyncio import create_async_engine

# Every module's models, so that the metadata is complete for autogenerate.
import ainotes.agent_actions.models
import ainotes.artifacts.models
import ainotes.attachments.models
import ainotes.auth.models
import ainotes.core.audit
import ainotes.core.idempotency
import ainotes.notes.models
import ainotes.relationships.models
import ainotes.search.models
import ainotes.tasks.models
import ainotes.workspaces.models  # noqa: F401
from ainotes.core.models import Base
from ainotes.search.models import is_engine_managed

target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=lambda *args: not is_engine_managed(*args),
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(_configure)
    await engine.dispose()


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url is not set"
    asyncio.run(_run_async(url))


if context.is_offline_mode():
    raise SystemExit("ainotes migrations run online only")
run()
