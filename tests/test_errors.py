"""Every error the API returns is an RFC 9457 problem with the same members."""

import json
import sqlite3
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url

from ainotes.app import create_app
from ainotes.core.config import Settings
from ainotes.core.db import ReadSession, WriteSession
from ainotes.core.errors import PROBLEM_TYPE_BASE
from tests.conftest import POSTGRES_ADMIN_DSN, served
from tests.factories import Factory
from tests.problems import assert_problem

pytestmark = pytest.mark.anyio

PROBLEM_MEMBERS = {"type", "title", "status", "detail", "instance", "request_id"}


class TestRouting:
    async def test_unknown_route_is_404(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/no-such-thing")
        body = assert_problem(response, 404)
        assert "/v1/no-such-thing" in body["detail"]

    async def test_wrong_method_is_405(self, client: httpx.AsyncClient) -> None:
        response = await client.put("/health")
        body = assert_problem(response, 405)
        assert body["type"] == PROBLEM_TYPE_BASE + "method-not-allowed"
        assert "GET" in response.headers["allow"]

    async def test_client_request_id_is_used_in_the_problem(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/v1/nowhere", headers={"X-Request-ID": "client-id-42"})
        assert assert_problem(response, 404)["request_id"] == "client-id-42"


class TestBody:
    async def test_malformed_json_is_400(self, factory: Factory) -> None:
        owner = await factory.user()
        response = await factory.client.post(
            "/v1/workspaces",
            content=b'{"name": "unterminated',
            headers={**owner.headers, "Content-Type": "application/json"},
        )
        body = assert_problem(response, 400)
        assert body["type"] == PROBLEM_TYPE_BASE + "malformed-body"

    async def test_wrong_type_is_422_with_errors(self, factory: Factory) -> None:
        owner = await factory.user()
        response = await factory.client.post(
            "/v1/workspaces", json={"name": ["not", "a", "string"]}, headers=owner.headers
        )
        body = assert_problem(response, 422)
        assert body["type"] == PROBLEM_TYPE_BASE + "validation-failed"
        assert [error["loc"] for error in body["errors"]] == [["body", "name"]]
        assert all(error["msg"] and error["type"] for error in body["errors"])

    async def test_unknown_field_is_422_with_errors(self, factory: Factory) -> None:
        owner = await factory.user()
        response = await factory.client.post(
            "/v1/workspaces", json={"name": "ok", "colour": "red"}, headers=owner.headers
        )
        body = assert_problem(response, 422)
        assert {"loc": ["body", "colour"], "type": "extra_forbidden"}.items() <= (
            body["errors"][0].items()
        )

    async def test_invalid_path_parameter_is_422(self, factory: Factory) -> None:
        owner = await factory.user()
        response = await factory.client.get("/v1/workspaces/not-an-id", headers=owner.headers)
        body = assert_problem(response, 422)
        assert body["errors"][0]["loc"] == ["path", "workspace_id"]

    async def test_declared_oversized_body_is_413(
        self, factory: Factory, settings: Settings
    ) -> None:
        owner = await factory.user()
        payload = json.dumps({"name": "x" * settings.max_request_body_bytes}).encode()
        response = await factory.client.post(
            "/v1/workspaces",
            content=payload,
            headers={**owner.headers, "Content-Type": "application/json"},
        )
        assert response.request.headers["content-length"] == str(len(payload))
        assert_problem(response, 413)

    async def test_streamed_oversized_body_without_length_is_413(
        self, factory: Factory, settings: Settings
    ) -> None:
        owner = await factory.user()
        chunk = b"x" * 64 * 1024
        chunks = settings.max_request_body_bytes // len(chunk) + 2

        async def body() -> AsyncIterator[bytes]:
            yield b'{"name": "'
            for _ in range(chunks):
                yield chunk
            yield b'"}'

        response = await factory.client.post(
            "/v1/workspaces",
            content=body(),
            headers={**owner.headers, "Content-Type": "application/json"},
        )
        assert "content-length" not in response.request.headers
        assert_problem(response, 413)

    async def test_body_under_the_limit_is_accepted(self, factory: Factory) -> None:
        owner = await factory.user()

        async def body() -> AsyncIterator[bytes]:
            yield b'{"name": '
            yield b'"streamed"}'

        response = await factory.client.post(
            "/v1/workspaces",
            content=body(),
            headers={**owner.headers, "Content-Type": "application/json"},
        )
        assert response.status_code == 201, response.text


class TestAuthentication:
    async def test_missing_token_is_401_problem(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/workspaces")
        assert_problem(response, 401)

    async def test_unknown_token_is_401_problem(self, client: httpx.AsyncClient) -> None:
        response = await client.get(
            "/v1/workspaces", headers={"Authorization": "Bearer ain_not-a-real-token"}
        )
        assert_problem(response, 401)


class TestUnexpectedException:
    async def test_is_500_that_leaks_nothing_and_is_logged(
        self, settings: Settings, capsys: pytest.CaptureFixture[str]
    ) -> None:
        app = create_app(settings.model_copy(update={"log_level": "info", "log_format": "json"}))

        @app.get("/v1/explode")
        async def explode() -> None:
            raise RuntimeError("secret internals")

        async with served(app) as http:
            capsys.readouterr()
            response = await http.get("/v1/explode")

        body = assert_problem(response, 500)
        assert "secret internals" not in response.text
        assert "RuntimeError" not in response.text
        assert "Traceback" not in response.text
        assert body["type"] == PROBLEM_TYPE_BASE + "internal-error"

        logged = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
        errors = [entry for entry in logged if entry.get("level") == "error"]
        assert len(errors) == 1
        assert "secret internals" in errors[0]["exception"]
        assert errors[0]["request_id"] == body["request_id"]
        access = [entry for entry in logged if entry.get("event") == "request"]
        assert [entry["status"] for entry in access] == [500]


class TestDatabaseBusy:
    """A transaction the database gave up on (a deadlock victim on PostgreSQL, a writer past
    the busy timeout on SQLite) is load, not a bug: 503 with Retry-After, retryable as is."""

    async def test_is_a_retryable_503(self, settings: Settings) -> None:
        app = create_app(settings.model_copy(update={"sqlite_busy_timeout_ms": 50}))
        blocker = None
        if settings.is_sqlite:
            # Another process holding SQLite's write lock past the busy timeout.
            path = make_url(settings.effective_database_url).database
            assert path is not None
            blocker = sqlite3.connect(path, isolation_level=None)

        @app.post("/v1/contended")
        async def contended(session: WriteSession) -> None:
            # PostgreSQL itself raises the error it raises for a deadlock victim.
            await session.execute(
                text("DO $$ BEGIN RAISE EXCEPTION 'victim' USING ERRCODE = '40P01'; END $$")
            )

        async with served(app) as http:
            if blocker is not None:
                blocker.execute("BEGIN IMMEDIATE")
            try:
                response = await http.post("/v1/contended")
            finally:
                if blocker is not None:
                    blocker.execute("ROLLBACK")
                    blocker.close()

        assert_problem(response, 503, "database-busy")
        assert response.headers["retry-after"] == "1"

    async def test_other_database_errors_stay_500(self, settings: Settings) -> None:
        app = create_app(settings)

        @app.post("/v1/broken")
        async def broken(session: WriteSession) -> None:
            await session.execute(text("SELECT * FROM no_such_table"))

        async with served(app) as http:
            response = await http.post("/v1/broken")

        body = assert_problem(response, 500)
        assert "no_such_table" not in response.text
        assert body["type"] == PROBLEM_TYPE_BASE + "internal-error"


def _app_telling_its_backend(settings: Settings) -> FastAPI:
    """An app with one pooled connection and a route that names its PostgreSQL backend."""
    app = create_app(settings.model_copy(update={"database_pool_size": 1}))

    @app.get("/v1/backend")
    async def backend(session: ReadSession) -> int:
        pid: int = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        return pid

    return app


async def _terminate(backend_pids: set[int]) -> None:
    """Drop these connections from the server's side, as a restart would."""
    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        for pid in backend_pids:
            await admin.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()


@pytest.mark.parametrize("settings", ["postgres"], indirect=True)
async def test_a_connection_the_database_dropped_is_503_then_replaced(settings: Settings) -> None:
    """No pre-ping on checkout: a connection PostgreSQL dropped (a restart) fails the request
    that meets it, retryably, and the pool replaces it for the next."""
    app = _app_telling_its_backend(settings)

    async with served(app) as http:
        pid = (await http.get("/v1/backend")).json()
        await _terminate({pid})

        dropped = await http.get("/v1/backend")
        replaced = await http.get("/v1/backend")

    assert_problem(dropped, 503, "database-busy")
    assert replaced.status_code == 200
    assert replaced.json() != pid


@pytest.mark.parametrize("settings", ["postgres"], indirect=True)
async def test_a_dropped_connection_under_a_row_query_is_replaced_within_the_request(
    settings: Settings,
) -> None:
    """A read's RowQueries run on a connection straight from the pool, on the driver itself
    (core/rows.py). One PostgreSQL dropped is discarded, and the statement runs again the
    ordinary way, on the session's connection: here, with a pool of one, a connection the
    pool opens anew, so the request answers. (Were the pool's next connection dropped too, it
    would answer the retryable 503 of the test above.)"""
    app = _app_telling_its_backend(settings)

    async with served(app) as http:
        factory = Factory(app.state.database, http)
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        note = await factory.note(workspace, owner)
        url = f"/v1/workspaces/{workspace['id']}/notes/{note['id']}"
        assert (await http.get(url, headers=owner.headers)).status_code == 200
        pids = {(await http.get("/v1/backend")).json() for _ in range(4)}
        await _terminate(pids)

        answered = await http.get(url, headers=owner.headers)
        now = {(await http.get("/v1/backend")).json() for _ in range(4)}

    assert answered.status_code == 200, answered.text
    assert answered.json()["id"] == note["id"]
    assert not now & pids


@pytest.mark.parametrize("settings", ["postgres"], indirect=True)
async def test_a_dropped_connection_under_a_writes_token_check_is_503_then_replaced(
    settings: Settings,
) -> None:
    """A write's RowQueries run on its session's connection, in its transaction, on the
    driver itself (core/rows.py): one PostgreSQL dropped still answers as it does under
    SQLAlchemy, a retryable 503, and the pool replaces it for the next request."""
    app = _app_telling_its_backend(settings)

    async with served(app) as http:
        factory = Factory(app.state.database, http)
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        notes = f"/v1/workspaces/{workspace['id']}/notes"
        pids = {(await http.get("/v1/backend")).json() for _ in range(4)}
        await _terminate(pids)

        failed = await http.post(notes, json={"title": "t"}, headers=owner.headers)
        created = await http.post(notes, json={"title": "t"}, headers=owner.headers)

    assert_problem(failed, 503, "database-busy")
    assert created.status_code == 201, created.text
