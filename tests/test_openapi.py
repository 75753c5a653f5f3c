"""The OpenAPI document covers every route and documents its problems; /docs works offline."""

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from ainotes.core.concurrency import InvalidIfMatch, expected_version
from ainotes.core.errors import (
    PROBLEM_CONTENT_TYPE,
    ContentTooLarge,
    DatabaseBusy,
    InvalidCorrelationHeader,
    ProblemError,
    UnsupportedMediaType,
)
from ainotes.core.idempotency import MUTATING_METHODS
from ainotes.notes.errors import NoteTooLarge

pytestmark = pytest.mark.anyio

PROBLEM_REF = "#/components/schemas/ProblemDetail"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    route: APIRoute


def api_operations(app: FastAPI) -> Iterator[Operation]:
    """Every (method, path) the app answers through an APIRoute, with the prefixes of any
    included router applied (ainotes serves its modules' routes as its own, but the walk does
    not rely on it)."""
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            assert context.path is not None
            for method in sorted(context.methods or ()):
                yield Operation(method, context.path, route)


@pytest.fixture
async def document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


MIDDLEWARE_HEADERS = {
    "X-Request-ID",
    "X-Correlation-ID",
    "X-Workflow-ID",
    "X-Workflow-Step",
    "traceparent",
}


def operations_of(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield method, path, operation


class TestDocument:
    async def test_served_document_is_openapi_3_1(
        self, client: httpx.AsyncClient, document: dict[str, Any]
    ) -> None:
        response = await client.get("/openapi.json")
        assert response.status_code == 200
        served = response.json()
        assert served["openapi"].startswith("3.1.")
        assert served["info"]["title"] == "ainotes"
        assert served["info"]["version"]
        assert served["paths"] == document["paths"]

    async def test_every_v1_route_is_documented(
        self, app: FastAPI, document: dict[str, Any]
    ) -> None:
        undocumented = [
            f"{op.method} {op.path}"
            for op in api_operations(app)
            if op.path.startswith("/v1")
            and op.method.lower() not in document["paths"].get(op.path, {})
        ]
        assert undocumented == []
        assert sum(1 for op in api_operations(app) if op.path.startswith("/v1")) > 10

    async def test_every_v1_route_is_in_the_schema(self, app: FastAPI) -> None:
        hidden = [
            f"{op.method} {op.path}"
            for op in api_operations(app)
            if op.path.startswith("/v1") and not op.route.include_in_schema
        ]
        assert hidden == []

    async def test_operation_ids_are_unique(self, document: dict[str, Any]) -> None:
        ids = [operation["operationId"] for _, _, operation in operations_of(document)]
        assert all(ids)
        assert len(ids) == len(set(ids))

    async def test_all_refs_resolve(self, document: dict[str, Any]) -> None:
        refs = set(re.findall(r'"\$ref": "([^"]+)"', json.dumps(document)))
        schemas = document["components"]["schemas"]
        missing = [ref for ref in refs if ref.rsplit("/", 1)[1] not in schemas]
        assert missing == []

    async def test_problem_detail_schema(self, document: dict[str, Any]) -> None:
        problem = document["components"]["schemas"]["ProblemDetail"]
        assert set(problem["required"]) == {
            "type",
            "title",
            "status",
            "detail",
            "instance",
            "request_id",
        }
        assert "HTTPValidationError" not in document["components"]["schemas"]


class TestProblemResponses:
    async def test_every_v1_operation_documents_401_and_422(self, document: dict[str, Any]) -> None:
        missing = [
            f"{method} {path}: {status}"
            for method, path, operation in operations_of(document)
            if path.startswith("/v1")
            for status in ("401", "422")
            if status not in operation["responses"]
        ]
        assert missing == []

    async def test_operations_with_input_document_422(self, document: dict[str, Any]) -> None:
        missing = [
            f"{method} {path}"
            for method, path, operation in operations_of(document)
            if (
                any(p["name"] not in MIDDLEWARE_HEADERS for p in operation.get("parameters", []))
                or operation.get("requestBody")
            )
            and "422" not in operation["responses"]
        ]
        assert missing == []

    async def test_every_error_response_is_a_problem(self, document: dict[str, Any]) -> None:
        wrong = []
        for method, path, operation in operations_of(document):
            for status, response in operation["responses"].items():
                if not status.startswith(("4", "5")):
                    continue
                content = response.get("content", {})
                schema = content.get(PROBLEM_CONTENT_TYPE, {}).get("schema", {})
                if set(content) != {PROBLEM_CONTENT_TYPE} or schema.get("$ref") != PROBLEM_REF:
                    wrong.append(f"{method} {path} {status}: {content}")
                if not response.get("description"):
                    wrong.append(f"{method} {path} {status}: no description")
        assert wrong == []

    async def test_operations_document_413_and_those_with_a_body_415(
        self, document: dict[str, Any]
    ) -> None:
        """Any request declaring a body past the server's limit is refused with 413
        content-too-large, and a JSON body sent as another media type with 415, whatever else
        the route documents."""
        missing = []
        for method, path, operation in operations_of(document):
            expected: dict[str, type[ProblemError]] = {"413": ContentTooLarge}
            body = operation.get("requestBody")
            if body is not None and "application/json" in body["content"]:
                expected["415"] = UnsupportedMediaType
            for status, error in expected.items():
                response = operation["responses"].get(status, {})
                if error.type_uri() not in response.get("description", ""):
                    missing.append(f"{method} {path}: {status}")
        assert missing == []

    async def test_a_route_problem_and_the_body_limit_share_413(
        self, document: dict[str, Any]
    ) -> None:
        create_note = document["paths"]["/v1/workspaces/{workspace_id}/notes"]["post"]
        description = create_note["responses"]["413"]["description"]
        assert NoteTooLarge.type_uri() in description
        assert ContentTooLarge.type_uri() in description

    async def test_every_operation_documents_the_headers_every_request_may_carry(
        self, document: dict[str, Any]
    ) -> None:
        """The request-context middleware reads them on every request and refuses a malformed
        correlation header with 400 invalid-correlation-header, before any route runs."""
        missing = []
        for method, path, operation in operations_of(document):
            names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
            if not names >= MIDDLEWARE_HEADERS:
                missing.append(f"{method} {path}: {sorted(MIDDLEWARE_HEADERS - names)}")
            description = operation["responses"].get("400", {}).get("description", "")
            if InvalidCorrelationHeader.type_uri() not in description:
                missing.append(f"{method} {path}: 400")
        assert missing == []

    async def test_no_parameter_is_documented_as_null(self, document: dict[str, Any]) -> None:
        """Parameters are text or absent; "or null" would have clients send the text null."""
        wrong = [
            f"{method} {path}: {p['name']}"
            for method, path, operation in operations_of(document)
            for p in operation.get("parameters", [])
            if "null" in json.dumps(p.get("schema", {}))
        ]
        assert wrong == []

    async def test_no_operation_documents_headers_openapi_ignores(
        self, document: dict[str, Any]
    ) -> None:
        """OpenAPI 3.1 says a header parameter named Accept, Content-Type or Authorization
        SHALL be ignored: those are the media types and the security scheme's."""
        ignored = {"accept", "content-type", "authorization"}
        wrong = [
            f"{method} {path}: {p['name']}"
            for method, path, operation in operations_of(document)
            for p in operation.get("parameters", [])
            if p["in"] == "header" and p["name"].lower() in ignored
        ]
        assert wrong == []

    async def test_every_response_documents_the_headers_it_always_carries(
        self, document: dict[str, Any]
    ) -> None:
        missing = []
        for method, path, operation in operations_of(document):
            for status, response in operation["responses"].items():
                headers = response.get("headers", {})
                if not headers.get("X-Request-ID", {}).get("required"):
                    missing.append(f"{method} {path} {status}: X-Request-ID")
                if (
                    method.upper() in MUTATING_METHODS
                    and status.startswith("2")
                    and "Idempotent-Replayed" not in headers
                ):
                    missing.append(f"{method} {path} {status}: Idempotent-Replayed")
                if status == "401" and not headers.get("WWW-Authenticate", {}).get("required"):
                    missing.append(f"{method} {path} 401: WWW-Authenticate")
        assert missing == []

    async def test_every_route_that_reads_the_database_documents_503(
        self, document: dict[str, Any]
    ) -> None:
        missing = [
            f"{method} {path}"
            for method, path, operation in operations_of(document)
            if path.startswith("/v1/")
            and DatabaseBusy.type_uri()
            not in operation["responses"].get("503", {}).get("description", "")
        ]
        assert missing == []

    async def test_documented_header_patterns_are_the_middlewares(
        self, client: httpx.AsyncClient, document: dict[str, Any]
    ) -> None:
        create_workspace = document["paths"]["/v1/workspaces"]["post"]
        pattern = next(
            p["schema"]["pattern"]
            for p in create_workspace["parameters"]
            if p["name"] == "X-Workflow-Step"
        )
        for step, status in (("a" * 64, 200), ("a" * 65, 400), ("plan/1", 200), ("a b", 400)):
            assert (re.fullmatch(pattern, step) is not None) == (status == 200)
            response = await client.get("/health", headers={"X-Workflow-Step": step})
            assert response.status_code == status

    async def test_workspace_routes_document_404(self, document: dict[str, Any]) -> None:
        """Non-members get 404 from every route under a workspace (see test_tenancy)."""
        missing = [
            f"{method} {path}"
            for method, path, operation in operations_of(document)
            if path.startswith("/v1/workspaces/{workspace_id}")
            and "404" not in operation["responses"]
        ]
        assert missing == []

    async def test_if_match_routes_document_412_and_400(self, document: dict[str, Any]) -> None:
        missing = [
            f"{method} {path}: {status}"
            for method, path, operation in operations_of(document)
            if any(p["name"].lower() == "if-match" for p in operation.get("parameters", []))
            for status in ("400", "412")
            if status not in operation["responses"]
        ]
        assert missing == []

    @pytest.mark.parametrize(
        "value",
        [
            '"7"',
            'W/"7"',
            "*",
            ' "7" ',
            '\t"7"\t',
            '"' + "9" * 18 + '"',
            '"007"',
            "7",
            "null",
            "",
            '"7", "8"',
            '"x"',
            'W/"-1"',
            '"' + "9" * 19 + '"',
            '"\u0667"',  # an Arabic-Indic 7: a digit to Python's \d, not to ECMA's
            '\x85"7"',  # whitespace to Python's \s, not to ECMA's
            '"7"\ufeff',  # the reverse
            '"7"\n',  # Python's $ matches before a final newline, ECMA's does not
        ],
    )
    async def test_if_match_documents_the_values_it_takes(
        self, document: dict[str, Any], value: str
    ) -> None:
        """A client can tell a well-formed If-Match from the document: the pattern it gives
        matches exactly the values the server takes (others get a 400 invalid-if-match)."""
        patterns = {
            parameter["schema"]["pattern"]
            for _, _, operation in operations_of(document)
            for parameter in operation.get("parameters", [])
            if parameter["name"].lower() == "if-match"
        }
        assert len(patterns) == 1
        # The pattern uses no class whose meaning differs between Python and ECMA regexes.
        assert not re.search(r"\\[dswDSW]", next(iter(patterns)))
        try:
            expected_version(value)
            taken = True
        except InvalidIfMatch:
            taken = False
        pattern = patterns.pop().removeprefix("^").removesuffix("$")
        assert (re.fullmatch(pattern, value) is not None) == taken

    async def test_paginated_routes_document_400_for_bad_cursors(
        self, document: dict[str, Any]
    ) -> None:
        missing = [
            f"{method} {path}"
            for method, path, operation in operations_of(document)
            if any(p["name"] == "cursor" for p in operation.get("parameters", []))
            and "400" not in operation["responses"]
        ]
        assert missing == []


class TestDocs:
    async def test_docs_page_loads_only_local_assets(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/docs")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        html = response.text

        absolute = re.findall(r"""https?://[^\s"'<>)]+""", html)
        foreign = [url for url in absolute if urlsplit(url).netloc != client.base_url.netloc]
        assert foreign == []

        assets = re.findall(r"""<(?:script|link)\b[^>]*\b(?:src|href)=["']([^"']+)["']""", html)
        assert any(asset.endswith(".js") for asset in assets)
        assert any(asset.endswith(".css") for asset in assets)
        for asset in assets:
            assert asset.startswith("/"), asset
            assert not asset.startswith("//"), asset
            fetched = await client.get(asset)
            assert fetched.status_code == 200, asset
            assert fetched.content

        openapi_url = re.search(r"""url:\s*['"]([^'"]+)['"]""", html)
        assert openapi_url is not None
        assert (await client.get(openapi_url.group(1))).status_code == 200


async def test_the_documentation_lists_every_section_once_in_reading_order(
    document: dict[str, Any],
) -> None:
    """Routers are mounted in the order requests are best matched in, not the order a reader
    meets the API in; the document's tags keep the latter, and name every tag in use."""
    used = {tag for _, _, operation in operations_of(document) for tag in operation["tags"]}
    listed = [tag["name"] for tag in document["tags"]]
    assert listed[:4] == ["health", "users and tokens", "workspaces", "notes"]
    assert sorted(listed) == sorted(used)
