"""Input built to break the server gets a problem, never a 500: instants UTC cannot hold,
forged cursors past a column's range, NUL characters, infinities, wrong media types, and
methods a resource does not have."""

import base64
import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from ainotes.app import create_app
from ainotes.core.config import Settings
from ainotes.core.db import Database, ReadSession
from ainotes.core.middleware import _has_escaped_nul, _NulScanner
from tests.artifacts.test_routes import PROVENANCE
from tests.conftest import served
from tests.factories import Actor, Factory
from tests.problems import assert_problem

pytestmark = pytest.mark.anyio

# Aware, and valid in their own offset, but outside the years datetime holds once in UTC.
OUT_OF_RANGE_INSTANTS = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]


def _cursor(ordering: str, sort_value: Any, last_id: str = "01JGFJJZ00KR23A7HJGAC7953B") -> str:
    raw = json.dumps({"o": ordering, "k": [sort_value, last_id]}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.fixture
async def owner(factory: Factory) -> Actor:
    return await factory.user()


@pytest.fixture
async def workspace(factory: Factory, owner: Actor) -> dict[str, Any]:
    return await factory.workspace(owner)


class TestInstantsOutOfRange:
    @pytest.mark.parametrize("instant", OUT_OF_RANGE_INSTANTS)
    @pytest.mark.parametrize(
        ("path", "parameter"),
        [
            ("notes", "updated_after"),
            ("search", "updated_after"),
            ("audit", "since"),
            ("audit", "until"),
            ("proposals", "created_after"),
            ("proposals", "created_before"),
        ],
    )
    async def test_are_a_validation_error(
        self,
        client: httpx.AsyncClient,
        owner: Actor,
        workspace: dict[str, Any],
        path: str,
        parameter: str,
        instant: str,
    ) -> None:
        response = await client.get(
            f"/v1/workspaces/{workspace['id']}/{path}",
            params={parameter: instant, **({"q": "cells"} if path == "search" else {})},
            headers=owner.headers,
        )
        body = assert_problem(response, 422, "validation-failed")
        assert [error["loc"] for error in body["errors"]] == [["query", parameter]]

    async def test_an_instant_in_range_still_filters(
        self, client: httpx.AsyncClient, factory: Factory, owner: Actor, workspace: dict[str, Any]
    ) -> None:
        note = await factory.note(workspace, owner)
        response = await client.get(
            f"/v1/workspaces/{workspace['id']}/notes",
            params={"updated_after": "2000-01-01T00:00:00+14:00"},
            headers=owner.headers,
        )
        assert response.status_code == 200
        assert [item["id"] for item in response.json()["items"]] == [note["id"]]


class TestForgedCursors:
    @pytest.mark.parametrize(
        ("listing", "ordering", "sort_value"),
        [
            ("tasks", "due", 2**63),
            ("tasks", "due", -(2**63) - 1),
            ("notes/{note}/tasks", "line", 2**63),
            ("notes/{note}/tasks", "line", 2**31),
            ("notes/{note}/revisions", "version:desc", 2**63),
            ("notes/{note}/revisions", "version:desc", 2**31),
            ("notes", "updated_at:desc", OUT_OF_RANGE_INSTANTS[0]),
            ("notes", "created_at:asc", OUT_OF_RANGE_INSTANTS[1]),
        ],
    )
    async def test_past_the_range_of_their_column_are_refused(
        self,
        client: httpx.AsyncClient,
        factory: Factory,
        owner: Actor,
        workspace: dict[str, Any],
        listing: str,
        ordering: str,
        sort_value: Any,
    ) -> None:
        note = await factory.note(workspace, owner, body="- [ ] a task")
        sort, _, order = ordering.partition(":")
        params = {"cursor": _cursor(ordering, sort_value)}
        if listing == "notes":
            params |= {"sort": sort, "order": order}
        response = await client.get(
            f"/v1/workspaces/{workspace['id']}/{listing.format(note=note['id'])}",
            params=params,
            headers=owner.headers,
        )
        assert_problem(response, 400, "invalid-cursor")

    async def test_at_the_edge_of_the_range_are_read(
        self, client: httpx.AsyncClient, factory: Factory, owner: Actor, workspace: dict[str, Any]
    ) -> None:
        note = await factory.note(workspace, owner, body="- [ ] a task")
        response = await client.get(
            f"/v1/workspaces/{workspace['id']}/notes/{note['id']}/revisions",
            params={"cursor": _cursor("version:desc", 2**31 - 1)},
            headers=owner.headers,
        )
        assert response.status_code == 200, response.text
        assert [r["version"] for r in response.json()["items"]] == [1]


class TestNulCharacters:
    """PostgreSQL's text cannot hold U+0000, so the API takes it on neither database."""

    @pytest.mark.parametrize(
        "fields",
        [{"title": "a\u0000b"}, {"body": "text\u0000"}, {"tags": ["ok", "\u0000"]}],
    )
    async def test_in_a_json_body_is_a_validation_error(
        self,
        client: httpx.AsyncClient,
        owner: Actor,
        workspace: dict[str, Any],
        fields: dict[str, Any],
    ) -> None:
        notes = f"/v1/workspaces/{workspace['id']}/notes"
        response = await client.post(notes, json={"title": "t", **fields}, headers=owner.headers)
        body = assert_problem(response, 422, "validation-failed")
        assert body["errors"] == [{"loc": ["body"], "msg": body["detail"], "type": "string_nul"}]
        listed = await client.get(notes, headers=owner.headers)
        assert listed.json()["items"] == []

    async def test_split_across_chunks_of_a_streamed_body_is_found(
        self, client: httpx.AsyncClient, owner: Actor, workspace: dict[str, Any]
    ) -> None:
        async def chunks() -> Any:
            yield b'{"title": "t", "body": "abc\\u00'
            yield b'00"}'

        response = await client.post(
            f"/v1/workspaces/{workspace['id']}/notes",
            content=chunks(),
            headers={**owner.headers, "Content-Type": "application/json"},
        )
        assert_problem(response, 422, "validation-failed")

    async def test_an_uploaded_json_file_may_hold_anything(
        self, client: httpx.AsyncClient, owner: Actor, workspace: dict[str, Any]
    ) -> None:
        """Attachments are bytes, not the API's text: a JSON file with an escaped NUL is a
        file like any other."""
        content = b'{"data": "a\\u0000b"}'
        response = await client.post(
            f"/v1/workspaces/{workspace['id']}/attachments",
            params={"filename": "data.json"},
            content=content,
            headers={**owner.headers, "Content-Type": "application/json"},
        )
        assert response.status_code == 201, response.text
        assert response.json()["size"] == len(content)

    @pytest.mark.parametrize(
        ("body", "holds_nul"),
        [
            (b'{"t": "' + b"\\" * 66 + b'u0000"}', False),
            (b'{"t": "' + b"\\" * 65 + b'u0000"}', True),
            (b'{"t": "' + b"\\" * 130 + b'u0000 and \\\\u0000"}', False),
            (b'{"t": "' + b"\\" * 130 + b'u0000 and \\u0000"}', True),
            (b'{"t": "\\\\\\u0000"}', True),
            (b'{"t": "u0000\\\\"}', False),
        ],
    )
    def test_streamed_bodies_are_judged_as_whole_ones_wherever_they_are_cut(
        self, body: bytes, holds_nul: bool
    ) -> None:
        assert _has_escaped_nul(body) == holds_nul
        for size in (1, 2, 3, 5, 7, 64):
            scanner = _NulScanner()
            chunks = [body[i : i + size] for i in range(0, len(body), size)]
            assert any(scanner.found_in(chunk) for chunk in chunks) == holds_nul, size
        for cut in range(len(body) + 1):
            scanner = _NulScanner()
            found = scanner.found_in(body[:cut]) or scanner.found_in(body[cut:])
            assert found == holds_nul, cut

    async def test_an_escaped_backslash_before_u0000_is_text(
        self, client: httpx.AsyncClient, owner: Actor, workspace: dict[str, Any]
    ) -> None:
        title = "C:\\u0000 and \\\\u0000"
        response = await client.post(
            f"/v1/workspaces/{workspace['id']}/notes", json={"title": title}, headers=owner.headers
        )
        assert response.status_code == 201, response.text
        assert response.json()["title"] == title

    @pytest.mark.parametrize("query", ["q=a%00b", "q=cells&tag=%00"])
    async def test_in_a_query_is_a_validation_error(
        self, client: httpx.AsyncClient, owner: Actor, workspace: dict[str, Any], query: str
    ) -> None:
        response = await client.get(
            f"/v1/workspaces/{workspace['id']}/search?{query}", headers=owner.headers
        )
        body = assert_problem(response, 422, "validation-failed")
        assert body["errors"][0]["type"] == "string_nul"

    async def test_that_reaches_postgresql_anyway_is_a_validation_error(
        self, settings: Settings
    ) -> None:
        """The checks on the way in are the rule; PostgreSQL refusing such text is the net
        under them (SQLite stores it)."""
        app = create_app(settings)

        @app.get("/echo")
        async def echo(session: ReadSession) -> dict[str, str]:
            value = (await session.execute(text("SELECT :v"), {"v": "a\u0000b"})).scalar_one()
            return {"echo": value}

        async with served(app) as http:
            response = await http.get("/echo")
        if settings.is_sqlite:
            assert response.json() == {"echo": "a\u0000b"}
        else:
            assert_problem(response, 422, "validation-failed")


async def test_a_number_stored_before_they_had_to_be_finite_reads_as_null(
    client: httpx.AsyncClient, database: Database, owner: Actor, workspace: dict[str, Any]
) -> None:
    artifacts = f"/v1/workspaces/{workspace['id']}/artifacts"
    created = await client.post(
        artifacts,
        json={"kind": "custom", "title": "t", "content": {"x": 1}, "provenance": PROVENANCE},
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    async with database.write_session() as session:
        await session.execute(
            text("UPDATE artifacts SET content = :content WHERE id = :id"),
            {"content": '{"x": 1e999}', "id": created.json()["id"]},
        )
    response = await client.get(f"{artifacts}/{created.json()['id']}", headers=owner.headers)
    assert response.status_code == 200, response.text
    assert response.json()["content"] == {"x": None}


async def test_an_infinite_number_is_a_validation_error_not_a_stored_null(
    client: httpx.AsyncClient, owner: Actor, workspace: dict[str, Any]
) -> None:
    artifacts = f"/v1/workspaces/{workspace['id']}/artifacts"
    response = await client.post(
        artifacts,
        content=json.dumps(
            {
                "kind": "custom",
                "title": "t",
                "content": {"score": 1.5, "spread": "INFINITY"},
                "provenance": PROVENANCE,
            }
        ).replace('"INFINITY"', "1e999"),
        headers={**owner.headers, "Content-Type": "application/json"},
    )
    body = assert_problem(response, 422, "validation-failed")
    assert any(error["loc"][:3] == ["body", "custom", "content"] for error in body["errors"])
    assert (await client.get(artifacts, headers=owner.headers)).json()["items"] == []


class TestMediaType:
    @pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
    async def test_a_json_body_sent_as_something_else_is_415(
        self, client: httpx.AsyncClient, owner: Actor, content_type: str
    ) -> None:
        response = await client.post(
            "/v1/workspaces",
            content=b'{"name": "Biology"}',
            headers={**owner.headers, "Content-Type": content_type},
        )
        body = assert_problem(response, 415, "unsupported-media-type")
        assert content_type in body["detail"]

    async def test_a_body_without_a_content_type_is_415(
        self, client: httpx.AsyncClient, owner: Actor
    ) -> None:
        response = await client.post(
            "/v1/workspaces", content=b'{"name": "Biology"}', headers=owner.headers
        )
        assert_problem(response, 415, "unsupported-media-type")

    async def test_json_of_the_wrong_shape_stays_422(
        self, client: httpx.AsyncClient, owner: Actor
    ) -> None:
        response = await client.post("/v1/workspaces", json=["Biology"], headers=owner.headers)
        assert_problem(response, 422, "validation-failed")

    async def test_a_json_suffix_media_type_is_json(
        self, client: httpx.AsyncClient, owner: Actor
    ) -> None:
        response = await client.post(
            "/v1/workspaces",
            content=b'{"name": "Biology"}',
            headers={**owner.headers, "Content-Type": "application/merge-patch+json"},
        )
        assert response.status_code == 201, response.text


async def test_405_names_the_methods_under_a_root_path_too(
    app: FastAPI, owner: Actor, workspace: dict[str, Any]
) -> None:
    transport = httpx.ASGITransport(app=app, root_path="/api")
    async with httpx.AsyncClient(transport=transport, base_url="http://ainotes.test") as http:
        response = await http.put(
            f"/api/v1/workspaces/{workspace['id']}/notes", headers=owner.headers
        )
    assert_problem(response, 405, "method-not-allowed")
    assert response.headers["allow"] == "GET, HEAD, POST"


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/v1/workspaces", "GET, HEAD, POST"),
        ("/v1/workspaces/{workspace}", "DELETE, GET, HEAD, PATCH"),
        ("/v1/workspaces/{workspace}/notes/{note}", "DELETE, GET, HEAD, PATCH"),
        ("/v1/workspaces/{workspace}/notes/{note}/restore", "POST"),
    ],
)
async def test_405_names_every_method_of_the_resource(
    client: httpx.AsyncClient,
    factory: Factory,
    owner: Actor,
    workspace: dict[str, Any],
    path: str,
    allowed: str,
) -> None:
    note = await factory.note(workspace, owner)
    response = await client.put(
        path.format(workspace=workspace["id"], note=note["id"]), headers=owner.headers
    )
    assert_problem(response, 405, "method-not-allowed")
    assert response.headers["allow"] == allowed
