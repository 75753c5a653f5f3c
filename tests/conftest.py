"""Fixtures: every database test runs on SQLite and on PostgreSQL, through the real app.

Each xdist worker gets one migrated database per backend. Tests isolate themselves by creating
their own users and workspaces; other tests' rows are cross-tenant noise.
"""

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from ainotes.app import create_app
from ainotes.core import migrations
from ainotes.core.config import Settings
from ainotes.core.db import Database
from tests.factories import Factory

POSTGRES_ADMIN_DSN = os.environ.get(
    "AINOTES_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


async def _drop_postgres_database(url: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await connection.close()


async def _postgres_database(name: str) -> str:
    try:
        connection = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError) as error:
        message = f"PostgreSQL is not reachable at {POSTGRES_ADMIN_DSN}: {error}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    base = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0]
    return f"{base}/{name}"


async def make_database_url(backend: str, directory: Path, label: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{directory / f'{label}.db'}"
    return await _postgres_database(f"ainotes_test_{label}_{uuid.uuid4().hex[:8]}")


def settings_for(database_url: str, data_dir: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=data_dir,
        log_format="json",
        log_level="warning",
        bootstrap_admin=False,
        max_request_body_bytes=256 * 1024,
        max_note_body_chars=100_000,
        # The default, whatever the developer's environment says (the session-scoped settings
        # are built before the per-test environment cleanup runs).
        sqlite_inline=True,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
async def settings(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Settings]:
    directory = tmp_path_factory.mktemp(f"db-{request.param}")
    url = await make_database_url(request.param, directory, f"{request.param}_{_worker()}")
    settings = settings_for(url, directory)
    # Alembic's env runs its own event loop, so it gets a thread of its own.
    await anyio.to_thread.run_sync(migrations.upgrade, settings.effective_database_url)
    yield settings
    if request.param == "postgres":
        await _drop_postgres_database(url)


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


@pytest.fixture(scope="session")
def database(app: FastAPI) -> Database:
    db: Database = app.state.database
    return db


@contextlib.asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``app`` with the app's lifespan running, as the server runs it; for tests
    that need an application of their own configuration."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=transport, base_url="http://ainotes.test") as http,
    ):
        yield http


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://ainotes.test") as http:
        yield http


@pytest.fixture
def factory(database: Database, client: httpx.AsyncClient) -> Factory:
    return Factory(database, client)


@pytest.fixture
def is_postgres(settings: Settings) -> bool:
    return not settings.is_sqlite


@pytest.fixture(autouse=True)
def _no_leftover_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key in list(os.environ):
        if key.startswith("AINOTES_") and key != "AINOTES_TEST_POSTGRES":
            monkeypatch.delenv(key)
    return


# Connections per pool of the extra app instances: small, so that concurrent writers outnumber
# connections many times over, which is where a request holding one connection while waiting
# for another would starve.
INSTANCE_POOL_SIZE = 2


@pytest.fixture
async def instances(settings: Settings) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Two more app instances on the test database, each with its own engines and pools, as
    two server processes would have."""
    small_pools = settings.model_copy(update={"database_pool_size": INSTANCE_POOL_SIZE})
    async with contextlib.AsyncExitStack() as stack:
        clients = []
        for _ in range(2):
            clients.append(await stack.enter_async_context(served(create_app(small_pools))))
        # Open the pools' connections first, as a running server would have them.
        await asyncio.gather(
            *(c.get("/ready") for c in clients for _ in range(2 * INSTANCE_POOL_SIZE))
        )
        yield clients
