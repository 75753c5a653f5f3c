"""The migration history runs both ways on both databases, and ends where the models are."""

import ast
import importlib
import pkgutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import create_async_engine

import ainotes
from ainotes.core import migrations
from ainotes.core.config import normalize_database_url
from ainotes.core.models import Base
from ainotes.search.models import is_engine_managed
from tests.conftest import _drop_postgres_database, make_database_url

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["sqlite", "postgres"])
async def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of a new, empty database of the parametrized backend."""
    url = await make_database_url(request.param, tmp_path, "migrations")
    yield normalize_database_url(url)
    if request.param == "postgres":
        await _drop_postgres_database(url)


async def on_connection(url: str, work: Any) -> Any:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(work)
    finally:
        await engine.dispose()


def table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def import_every_module() -> None:
    """Import the whole package, so that every model is registered wherever it lives.
    The migrations package is left out: importing env.py runs it."""
    for module in pkgutil.walk_packages(ainotes.__path__, "ainotes."):
        if not module.name.startswith("ainotes.migrations") and module.name != "ainotes.__main__":
            importlib.import_module(module.name)


import_every_module()


def model_differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "include_object": lambda *args: not is_engine_managed(*args),
        },
    )
    return list(compare_metadata(context, Base.metadata))


async def upgrade(url: str, revision: str = "heads") -> None:
    # Alembic's env.py runs its own event loop, so it needs a thread of its own.
    await anyio.to_thread.run_sync(migrations.upgrade, url, revision)


async def downgrade(url: str, revision: str) -> None:
    await anyio.to_thread.run_sync(migrations.downgrade, url, revision)


async def test_upgrade_downgrade_upgrade(fresh_url: str) -> None:
    model_tables = set(Base.metadata.tables)

    await upgrade(fresh_url)
    assert await on_connection(fresh_url, migrations.current_revision) == (
        migrations.head_revision()
    )
    assert await on_connection(fresh_url, table_names) >= model_tables

    await downgrade(fresh_url, "base")
    assert await on_connection(fresh_url, migrations.current_revision) is None
    assert await on_connection(fresh_url, table_names) <= {"alembic_version"}

    await upgrade(fresh_url)
    assert await on_connection(fresh_url, migrations.current_revision) == (
        migrations.head_revision()
    )
    assert await on_connection(fresh_url, table_names) >= model_tables


async def test_models_match_migrations(fresh_url: str) -> None:
    await upgrade(fresh_url)
    assert await on_connection(fresh_url, model_differences) == []


async def test_every_revision_downgrades_on_its_own(fresh_url: str) -> None:
    """Each revision, not only the whole history, can be undone; branches one at a time."""
    await upgrade(fresh_url)
    script = ScriptDirectory(str(migrations.MIGRATIONS_DIR))
    for revision in script.walk_revisions():
        await downgrade(fresh_url, f"{revision.revision}@-1")
        current = await on_connection(fresh_url, migrations.current_revision)
        assert revision.revision not in (current or "").split(",")
    assert await on_connection(fresh_url, migrations.current_revision) is None
    await upgrade(fresh_url)
    assert await on_connection(fresh_url, model_differences) == []


def test_env_imports_every_module_with_models() -> None:
    """Alembic's env.py lists model modules by hand; one left out would look, to autogenerate,
    like tables to drop."""
    env = ast.parse((migrations.MIGRATIONS_DIR / "env.py").read_text())
    imported = {
        alias.name for node in ast.walk(env) if isinstance(node, ast.Import) for alias in node.names
    }
    with_models = {mapper.class_.__module__ for mapper in Base.registry.mappers}
    assert with_models - imported == set()
