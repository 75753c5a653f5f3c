"""Request ids, correlation ids and the one access log line per request."""

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from ainotes.app import create_app
from ainotes.core.config import Settings
from ainotes.core.db import Database
from tests.conftest import served
from tests.factories import Factory
from tests.problems import assert_problem

pytestmark = pytest.mark.anyio

ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@pytest.fixture
async def logging_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """An app that logs at info level as JSON lines, so that tests can read its access log."""
    app = create_app(settings.model_copy(update={"log_level": "info", "log_format": "json"}))
    async with LifespanManager(app):
        yield app


@pytest.fixture
async def logging_client(logging_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=logging_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://ainotes.test") as http:
        yield http


@pytest.fixture
def logging_factory(logging_app: FastAPI, logging_client: httpx.AsyncClient) -> Factory:
    database: Database = logging_app.state.database
    return Factory(database, logging_client)


def access_lines(captured: str) -> list[dict[str, Any]]:
    entries = [json.loads(line) for line in captured.splitlines() if line.startswith("{")]
    return [entry for entry in entries if entry.get("event") == "request"]


class TestRequestId:
    async def test_well_formed_id_is_echoed(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/health", headers={"X-Request-ID": "req-1.a:b_C"})
        assert response.headers["x-request-id"] == "req-1.a:b_C"

    @pytest.mark.parametrize(
        "supplied",
        ["has spaces in it", "x" * 500, "new\nline", "req-1\n", "semi;colon", "ünïcode"],
        ids=["spaces", "500-chars", "newline", "final-newline", "semicolon", "non-ascii"],
    )
    async def test_malformed_id_is_replaced(self, client: httpx.AsyncClient, supplied: str) -> None:
        response = await client.get(
            "/health", headers=[(b"X-Request-ID", supplied.encode("utf-8"))]
        )
        assert ULID.match(response.headers["x-request-id"])

    async def test_absent_id_is_generated_per_request(self, client: httpx.AsyncClient) -> None:
        first = await client.get("/health")
        second = await client.get("/health")
        assert ULID.match(first.headers["x-request-id"])
        assert first.headers["x-request-id"] != second.headers["x-request-id"]

    async def test_correlation_id_is_echoed(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/health", headers={"X-Correlation-ID": "flow-7"})
        assert response.headers["x-correlation-id"] == "flow-7"

    @pytest.mark.parametrize(
        ("header", "value"),
        [
            ("X-Correlation-ID", "a b"),
            ("X-Correlation-ID", "x" * 129),
            ("X-Workflow-ID", "wf;drop table"),
            ("X-Workflow-Step", "s" * 65),
            ("X-Workflow-Step", ""),
            # Python's $ matches before a final newline; the documented (ECMA) pattern's not.
            ("X-Correlation-ID", "flow-7\n"),
        ],
    )
    async def test_malformed_correlation_headers_are_refused_naming_the_header(
        self, client: httpx.AsyncClient, header: str, value: str
    ) -> None:
        response = await client.get("/health", headers=[(header.encode(), value.encode())])
        body = assert_problem(response, 400, "invalid-correlation-header")
        assert body["header"] == header.lower()
        assert "x-correlation-id" not in response.headers
        assert response.headers["x-request-id"] == body["request_id"]

    async def test_workflow_ids_may_be_paths(self, client: httpx.AsyncClient) -> None:
        response = await client.get(
            "/health", headers={"X-Workflow-ID": "runs/42:step.1", "X-Workflow-Step": "a/b"}
        )
        assert response.status_code == 200


class TestAccessLog:
    async def test_one_line_per_request_with_route_template_and_principal(
        self, logging_factory: Factory, capsys: pytest.CaptureFixture[str]
    ) -> None:
        owner = await logging_factory.user()
        workspace = await logging_factory.workspace(owner)
        capsys.readouterr()

        response = await logging_factory.client.get(
            f"/v1/workspaces/{workspace['id']}", headers=owner.headers
        )

        assert response.status_code == 200
        [line] = access_lines(capsys.readouterr().err)
        assert line["method"] == "GET"
        assert line["route"] == "/v1/workspaces/{workspace_id}"
        assert line["status"] == 200
        assert isinstance(line["duration_ms"], float | int)
        assert line["duration_ms"] >= 0
        assert line["principal_id"] == owner.user_id
        assert line["request_id"] == response.headers["x-request-id"]
        assert line["level"] == "info"

    async def test_anonymous_and_unmatched_requests_are_logged(
        self, logging_client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
    ) -> None:
        capsys.readouterr()
        await logging_client.get("/health")
        await logging_client.delete("/v1/nothing/here")
        health, unmatched = access_lines(capsys.readouterr().err)
        assert (health["route"], health["status"], health["principal_id"]) == ("/health", 200, None)
        assert (unmatched["method"], unmatched["route"], unmatched["status"]) == (
            "DELETE",
            "<unmatched>",
            404,
        )

    async def test_correlation_and_trace_ids_are_carried(
        self, logging_client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
    ) -> None:
        capsys.readouterr()
        await logging_client.get(
            "/health",
            headers={
                "X-Request-ID": "req-carried",
                "X-Correlation-ID": "corr-carried",
                "traceparent": TRACEPARENT,
            },
        )
        [line] = access_lines(capsys.readouterr().err)
        assert line["request_id"] == "req-carried"
        assert line["correlation_id"] == "corr-carried"
        assert line["trace_id"] == TRACE_ID

    @pytest.mark.parametrize(
        "traceparent",
        [
            "garbage",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            f"00-{TRACE_ID}-short-01",
            f"00-{TRACE_ID}-0000000000000000-01",
            f"ff-{TRACE_ID}-00f067aa0ba902b7-01",
            f"00-{TRACE_ID.upper()}-00f067aa0ba902b7-01",
        ],
        ids=[
            "garbage",
            "zero-trace-id",
            "bad-parent-id",
            "zero-parent-id",
            "version-ff",
            "uppercase",
        ],
    )
    async def test_invalid_traceparent_is_ignored(
        self,
        logging_client: httpx.AsyncClient,
        capsys: pytest.CaptureFixture[str],
        traceparent: str,
    ) -> None:
        capsys.readouterr()
        await logging_client.get("/health", headers={"traceparent": traceparent})
        [line] = access_lines(capsys.readouterr().err)
        assert "trace_id" not in line

    async def test_refused_body_is_logged_once(
        self,
        logging_client: httpx.AsyncClient,
        settings: Settings,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        capsys.readouterr()
        response = await logging_client.post(
            "/v1/workspaces",
            content=b"x" * (settings.max_request_body_bytes + 1),
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 413
        [line] = access_lines(capsys.readouterr().err)
        assert (line["method"], line["status"]) == ("POST", 413)


ORIGIN = "https://notes.example.com"


@pytest.fixture
async def cors_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update={"cors_origins": f"{ORIGIN}, https://b.test"}))
    async with served(app) as http:
        yield http


class TestHead:
    """HEAD is GET without the body, wherever GET is answered (RFC 9110, 9.3.2)."""

    async def test_answers_as_get_does_without_the_body(self, factory: Factory) -> None:
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        note = await factory.note(workspace, owner)
        url = f"/v1/workspaces/{workspace['id']}/notes/{note['id']}"

        got = await factory.client.get(url, headers=owner.headers)
        head = await factory.client.head(url, headers=owner.headers)

        assert head.status_code == 200
        assert head.content == b""
        assert head.headers["etag"] == got.headers["etag"]
        assert head.headers["content-length"] == got.headers["content-length"]
        assert head.headers["content-type"] == got.headers["content-type"]
        assert ULID.match(head.headers["x-request-id"])

    async def test_refusals_are_the_same_as_for_get(self, factory: Factory) -> None:
        owner = await factory.user()
        outsider = await factory.user()
        workspace = await factory.workspace(owner)
        url = f"/v1/workspaces/{workspace['id']}/notes"

        assert (await factory.client.head(url)).status_code == 401
        unknown = await factory.client.head(url, headers=outsider.headers)
        assert unknown.status_code == 404
        assert unknown.content == b""
        restore = f"{url}/{'0' * 26}/restore"
        not_allowed = await factory.client.head(restore, headers=owner.headers)
        assert not_allowed.status_code == 405
        assert not_allowed.headers["allow"] == "POST"

    async def test_is_logged_as_head(
        self, logging_factory: Factory, capsys: pytest.CaptureFixture[str]
    ) -> None:
        owner = await logging_factory.user()
        workspace = await logging_factory.workspace(owner)
        capsys.readouterr()

        await logging_factory.client.head(
            f"/v1/workspaces/{workspace['id']}", headers=owner.headers
        )

        [line] = access_lines(capsys.readouterr().err)
        assert line["method"] == "HEAD"
        assert line["route"] == "/v1/workspaces/{workspace_id}"
        assert line["status"] == 200


class TestCors:
    async def test_preflight_from_an_allowed_origin_is_answered(
        self, cors_client: httpx.AsyncClient
    ) -> None:
        response = await cors_client.options(
            "/v1/workspaces",
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, idempotency-key, content-type",
            },
        )
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == ORIGIN
        assert "POST" in response.headers["access-control-allow-methods"]
        assert ULID.match(response.headers["x-request-id"])

    async def test_responses_expose_the_headers_clients_need(
        self, cors_client: httpx.AsyncClient
    ) -> None:
        response = await cors_client.get("/v1/workspaces", headers={"Origin": ORIGIN})
        assert response.status_code == 401
        assert response.headers["access-control-allow-origin"] == ORIGIN
        exposed = {
            h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")
        }
        assert {"x-request-id", "idempotent-replayed", "etag", "location"} <= exposed

    @pytest.mark.parametrize(
        ("path", "headers", "status"),
        [
            ("/v1/workspaces", {"X-Workflow-ID": "not allowed!"}, 400),
            ("/v1/workspaces", {"Content-Length": str(10**9)}, 413),
            ("/v1/workspaces?cursor=a%00b", {}, 422),
        ],
    )
    async def test_problems_answered_before_routing_carry_cors_headers(
        self, cors_client: httpx.AsyncClient, path: str, headers: dict[str, str], status: int
    ) -> None:
        """A browser hides a response without them from the page: the client could not read
        why its request failed."""
        method = "POST" if "Content-Length" in headers else "GET"
        request = cors_client.build_request(method, path, headers={"Origin": ORIGIN, **headers})
        response = await cors_client.send(request)
        problem = assert_problem(response, status)
        assert response.headers["access-control-allow-origin"] == ORIGIN
        assert "x-request-id" in response.headers["access-control-expose-headers"].lower()
        assert problem["request_id"] == response.headers["x-request-id"]

    async def test_other_origins_get_no_cors_headers(self, cors_client: httpx.AsyncClient) -> None:
        response = await cors_client.get("/health", headers={"Origin": "https://evil.test"})
        assert "access-control-allow-origin" not in response.headers

    async def test_without_configured_origins_there_is_no_cors(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.options(
            "/v1/workspaces",
            headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in response.headers
