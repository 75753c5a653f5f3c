"""Liveness answers without touching the database; readiness checks it is reachable and migrated."""

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from ainotes.app import create_app
from ainotes.core.config import Settings
from ainotes.core.db import Database
from ainotes.core.errors import PROBLEM_TYPE_BASE
from ainotes.core.migrations import head_revision
from tests.conftest import _drop_postgres_database, make_database_url, served
from tests.problems import assert_problem

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with served(app) as http:
        yield http


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class TestHealth:
    async def test_ok_without_credentials(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/health")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}

    async def test_does_no_database_io(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        database: Database = app.state.database
        statements: list[str] = []

        def record(*args: Any) -> None:
            statements.append(args[2])

        engines = {database.write_engine.sync_engine, database.read_engine.sync_engine}
        for engine in engines:
            event.listen(engine, "before_cursor_execute", record)
        try:
            assert (await client.get("/health")).status_code == 200
            # The listener is live: readiness does query the database.
            assert statements == []
            assert (await client.get("/ready")).status_code == 200
            assert statements
        finally:
            for engine in engines:
                event.remove(engine, "before_cursor_execute", record)

    async def test_ok_when_the_database_is_unreachable(self, settings: Settings) -> None:
        unreachable = settings.model_copy(
            update={"database_url": f"postgresql://nobody@127.0.0.1:{closed_port()}/none"}
        )
        async with serving(unreachable) as http:
            assert (await http.get("/health")).status_code == 200


class TestReady:
    async def test_ready_when_migrated(self, client: httpx.AsyncClient, settings: Settings) -> None:
        response = await client.get("/ready")
        assert response.status_code == 200
        assert response.json() == {
            "status": "ready",
            "database": "sqlite" if settings.is_sqlite else "postgresql",
            "revision": head_revision(),
        }

    async def test_503_when_the_schema_is_not_at_head(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        backend = "sqlite" if settings.is_sqlite else "postgres"
        url = await make_database_url(backend, tmp_path, "unmigrated")
        try:
            async with serving(settings.model_copy(update={"database_url": url})) as http:
                response = await http.get("/ready")
        finally:
            if backend == "postgres":
                await _drop_postgres_database(url)
        body = assert_problem(response, 503)
        assert body["type"] == PROBLEM_TYPE_BASE + "not-ready"
        assert "ainotes db upgrade" in body["detail"]

    async def test_503_when_the_database_is_unreachable(self, settings: Settings) -> None:
        unreachable = settings.model_copy(
            update={"database_url": f"postgresql://nobody@127.0.0.1:{closed_port()}/none"}
        )
        async with serving(unreachable) as http:
            response = await http.get("/ready")
        body = assert_problem(response, 503)
        assert body["type"] == PROBLEM_TYPE_BASE + "not-ready"
        assert "not reachable" in body["detail"]
