"""Workspaces are sealed: every route under a workspace answers 404 to a non-member.

The route list is not written down here: the test walks ``app.routes``, so a workspace route
added later is covered the day it is added. Path ids are filled with real ids from the
victim's workspace where its listings reveal some, request bodies are built from the OpenAPI
schema of the route, so that a non-member's request is otherwise one a member could make.
"""

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from ainotes.app import create_app
from ainotes.core.config import Settings
from ainotes.core.ids import ID_PATTERN, new_id
from tests.auth.test_jwt import AUDIENCE, ISSUER, SECRET, bearer, hs256
from tests.conftest import served
from tests.factories import Actor, Factory
from tests.problems import assert_problem
from tests.test_openapi import Operation, api_operations

pytestmark = pytest.mark.anyio

WORKSPACE_PREFIX = "/v1/workspaces/{workspace_id}"
PATH_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")
# Header values a member would send; If-Match at the version every seeded resource starts at.
HEADER_VALUES = {"if-match": '"1"'}
# The optional headers sent anyway: the routes that take them must be reached with them.
SENT_HEADERS = {"if-match", "idempotency-key"}


@dataclass
class Victim:
    """A workspace the stranger is not a member of, and what is in it."""

    owner: Actor
    workspace: dict[str, Any]
    secret: str
    ids: dict[str, str] = field(default_factory=dict)


class RequestBuilder:
    """Builds path, headers and body for an operation from the OpenAPI document."""

    def __init__(self, document: dict[str, Any], known_ids: dict[str, str]) -> None:
        self.document = document
        self.schemas: dict[str, Any] = document["components"]["schemas"]
        self.known_ids = known_ids

    def operation(self, op: Operation) -> dict[str, Any]:
        found: dict[str, Any] = self.document["paths"].get(op.path, {}).get(op.method.lower(), {})
        return found

    def path(self, op: Operation, workspace_id: str, ids: dict[str, str]) -> str:
        parameters = {
            p["name"]: p for p in self.operation(op).get("parameters", []) if p["in"] == "path"
        }

        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name == "workspace_id":
                return workspace_id
            schema = self.resolve(parameters.get(name, {}).get("schema", {}))
            if schema.get("type") == "integer":
                return str(max(int(schema.get("minimum", 1)), 1))
            return ids.get(name) or new_id()

        return PATH_PARAM.sub(fill, op.path)

    def headers(self, op: Operation) -> dict[str, str]:
        headers = {}
        for parameter in self.operation(op).get("parameters", []):
            if parameter["in"] != "header":
                continue
            name = parameter["name"].lower()
            if name not in SENT_HEADERS and not parameter.get("required"):
                # Optional headers a client leaves out (the correlation headers, which have
                # tests of their own).
                continue
            if name == "idempotency-key":
                # A fresh key per request, as a client would send for distinct writes.
                headers[name] = new_id()
                continue
            headers[name] = HEADER_VALUES.get(name) or str(
                self.example(parameter.get("schema", {}), name)
            )
        return headers

    def query(self, op: Operation) -> dict[str, str]:
        return {
            p["name"]: str(self.example(p.get("schema", {}), p["name"]))
            for p in self.operation(op).get("parameters", [])
            if p["in"] == "query" and p.get("required")
        }

    def body(self, op: Operation) -> dict[str, Any]:
        """httpx keyword arguments carrying a valid body, or none."""
        content = self.operation(op).get("requestBody", {}).get("content", {})
        if "application/json" in content:
            return {"json": self.example(content["application/json"]["schema"])}
        if "multipart/form-data" in content:
            schema = self.resolve(content["multipart/form-data"]["schema"])
            files, data = {}, {}
            for name, prop in schema.get("properties", {}).items():
                prop = self.resolve(prop)
                if prop.get("format") == "binary" or "contentMediaType" in prop:
                    files[name] = ("tenancy.txt", b"tenancy probe", "text/plain")
                elif name in schema.get("required", []):
                    data[name] = str(self.example(prop, name))
            return {"files": files, "data": data}
        return {}

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.schemas[schema["$ref"].rsplit("/", 1)[1]]
        return schema

    def example(self, schema: dict[str, Any], name: str = "") -> Any:
        """A small value the schema accepts; ids name real resources where known."""
        schema = self.resolve(schema)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return schema["enum"][0]
        for key in ("oneOf", "anyOf", "allOf"):
            if key in schema:
                options = [s for s in schema[key] if self.resolve(s).get("type") != "null"]
                return self.example(options[0] if options else schema[key][0], name)
        kind = schema.get("type")
        if kind == "object" or "properties" in schema:
            properties = schema.get("properties", {})
            return {
                key: self.example(properties[key], key)
                for key in schema.get("required", [])
                if key in properties
            }
        if kind == "array":
            return [self.example(schema.get("items", {}), name)] * max(schema.get("minItems", 1), 1)
        if kind == "integer":
            return max(int(schema.get("minimum", 1)), 1)
        if kind == "number":
            return max(float(schema.get("minimum", 1)), 1.0)
        if kind == "boolean":
            return False
        if kind == "null":
            return None
        return self.string(schema, name)

    def string(self, schema: dict[str, Any], name: str) -> str:
        if schema.get("pattern") == ID_PATTERN or name.endswith("_id"):
            return self.known_ids.get(name) or self.known_ids.get("note_id") or new_id()
        if schema.get("format") == "date-time":
            return datetime.now(UTC).isoformat()
        if schema.get("format") == "date":
            return datetime.now(UTC).date().isoformat()
        text = f"probe {name}".strip()
        return text.ljust(int(schema.get("minLength", 1)), "x")[: schema.get("maxLength", 200)]


def workspace_operations(app: FastAPI) -> list[Operation]:
    return [op for op in api_operations(app) if op.path.startswith(WORKSPACE_PREFIX)]


async def seed(factory: Factory, app: FastAPI, builder: RequestBuilder, victim: Victim) -> None:
    """Fill the victim's workspace: notes with a task and a wikilink, then one of everything
    its collection routes create, then read back an id per path parameter."""
    first = await factory.note(
        victim.workspace, victim.owner, title=f"Linked {victim.secret}", body=victim.secret
    )
    second = await factory.note(
        victim.workspace,
        victim.owner,
        title=f"Source {victim.secret}",
        body=f"- [ ] task {victim.secret}\n\nSee [[Linked {victim.secret}]].\n",
        tags=["tenancy"],
    )
    victim.ids.update(
        note_id=second["id"],
        source_note_id=second["id"],
        target_note_id=first["id"],
        user_id=victim.owner.user_id,
    )
    operations = workspace_operations(app)
    workspace_id = victim.workspace["id"]
    # Best effort as the owner: what fails to be created is probed with an unknown id instead.
    for op in operations:
        if op.method == "POST" and not PATH_PARAM.findall(op.path[len(WORKSPACE_PREFIX) :]):
            if op.path.endswith("/members"):
                continue
            await factory.client.post(
                builder.path(op, workspace_id, victim.ids),
                headers={**victim.owner.headers, **builder.headers(op)},
                **builder.body(op),
            )
    for op in operations:
        for name in PATH_PARAM.findall(op.path):
            if name in victim.ids or name == "workspace_id":
                continue
            collection = op.path[: op.path.index("{" + name)].rstrip("/")
            listing = next(
                (o for o in operations if o.method == "GET" and o.path == collection), None
            )
            if listing is None:
                continue
            response = await factory.client.get(
                builder.path(listing, workspace_id, victim.ids),
                params=builder.query(listing),
                headers=victim.owner.headers,
            )
            if response.status_code != 200:
                continue
            payload = response.json()
            items = payload.get("items", []) if isinstance(payload, dict) else payload
            if items and isinstance(items[0], dict):
                found = items[0].get(name) or items[0].get("id")
                if isinstance(found, str):
                    victim.ids[name] = found


async def make_victim(factory: Factory) -> Victim:
    owner = await factory.user("owner")
    secret = f"sealed-{uuid.uuid4().hex}"
    workspace = await factory.workspace(owner, name=f"Workspace {secret}")
    return Victim(owner, workspace, secret)


async def test_non_member_gets_404_from_every_workspace_route(
    factory: Factory, app: FastAPI
) -> None:
    stranger = await factory.user("stranger")
    await assert_sealed_to(factory, app, factory.client, stranger.headers, stranger)


async def test_non_member_signed_in_by_jwt_gets_404_from_every_workspace_route(
    factory: Factory, app: FastAPI, settings: Settings
) -> None:
    """The same walk by a user whom an identity provider's JWT signs in, a principal that
    reaches the access checks by another path (auth/dependencies.py: ``JwtPrincipal`` on
    writes, ``authenticate`` inside a read's check)."""
    stranger = await factory.user("jwt-stranger")
    identity_provider = {
        "jwt_issuer": ISSUER,
        "jwt_audience": AUDIENCE,
        "jwt_hs256_secret": SecretStr(SECRET),
    }
    async with served(create_app(settings.model_copy(update=identity_provider))) as client:
        headers = bearer(hs256(stranger.username))
        assert (await client.get("/v1/users/me", headers=headers)).json()["id"] == (
            stranger.user_id
        )
        await assert_sealed_to(factory, app, client, headers, stranger)


async def assert_sealed_to(
    factory: Factory,
    app: FastAPI,
    client: httpx.AsyncClient,
    stranger_headers: dict[str, str],
    stranger: Actor,
) -> None:
    """Every workspace route, called by ``client`` with ``stranger_headers``, answers 404 for a
    workspace the stranger is not in, as it does for one that does not exist."""
    victim = await make_victim(factory)
    # The stranger has a workspace of their own, so that membership somewhere is not enough.
    await factory.workspace(stranger, name="Stranger's own")
    builder = RequestBuilder(app.openapi(), victim.ids)
    await seed(factory, app, builder, victim)

    operations = workspace_operations(app)
    assert len(operations) >= 10
    unknown_workspace = new_id()
    failures = []
    for op in operations:
        headers = {**stranger_headers, **builder.headers(op)}
        url = builder.path(op, victim.workspace["id"], victim.ids)
        response = await client.request(
            op.method, url, params=builder.query(op), headers=headers, **builder.body(op)
        )
        if response.status_code != 404 or victim.secret in response.text:
            failures.append(f"{op.method} {op.path}: {response.status_code} {response.text[:300]}")
            continue
        body = assert_problem(response, 404)

        # Not being a member looks exactly like the workspace not existing.
        unknown = await client.request(
            op.method,
            builder.path(op, unknown_workspace, victim.ids),
            params=builder.query(op),
            headers=headers,
            **builder.body(op),
        )
        other = assert_problem(unknown, 404)
        if (body["type"], body["detail"].replace(victim.workspace["id"], "<id>")) != (
            other["type"],
            other["detail"].replace(unknown_workspace, "<id>"),
        ):
            failures.append(f"{op.method} {op.path}: {body} differs from {other}")
    assert failures == []

    # The walk changed nothing: the owner still sees the workspace and its notes unchanged.
    owner_headers = victim.owner.headers
    workspace_url = f"/v1/workspaces/{victim.workspace['id']}"
    assert (await factory.client.get(workspace_url, headers=owner_headers)).json()["name"] == (
        victim.workspace["name"]
    )
    note = await factory.client.get(
        f"{workspace_url}/notes/{victim.ids['note_id']}", headers=owner_headers
    )
    assert note.status_code == 200
    assert note.json()["version"] == 1


async def test_probe_ids_are_real_for_a_member(factory: Factory, app: FastAPI) -> None:
    """The walk above is not vacuous: with the same ids, the owner reaches every GET route."""
    victim = await make_victim(factory)
    builder = RequestBuilder(app.openapi(), victim.ids)
    await seed(factory, app, builder, victim)
    unreached = []
    for op in workspace_operations(app):
        names = [n for n in PATH_PARAM.findall(op.path) if n != "workspace_id"]
        resolved = all(n in victim.ids for n in names if "id" in n)
        if op.method != "GET" or not resolved:
            continue
        response = await factory.client.get(
            builder.path(op, victim.workspace["id"], victim.ids),
            params=builder.query(op),
            headers=victim.owner.headers,
        )
        if response.status_code != 200:
            unreached.append(f"GET {op.path}: {response.status_code} {response.text[:200]}")
    assert unreached == []


async def list_all_workspaces(client: httpx.AsyncClient, actor: Actor) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        response = await client.get("/v1/workspaces", params=params, headers=actor.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def test_workspace_listing_holds_only_own_memberships(factory: Factory) -> None:
    alice = await factory.user("alice")
    bob = await factory.user("bob")
    alices = {(await factory.workspace(alice, name=f"Alice {n}"))["id"] for n in range(3)}
    bobs = {(await factory.workspace(bob, name=f"Bob {n}"))["id"] for n in range(2)}
    shared = await factory.workspace(alice, name="Shared")
    await factory.client.post(
        f"/v1/workspaces/{shared['id']}/members",
        json={"user_id": bob.user_id, "role": "viewer"},
        headers=alice.headers,
    )

    seen_by_alice = {w["id"] for w in await list_all_workspaces(factory.client, alice)}
    seen_by_bob = {w["id"] for w in await list_all_workspaces(factory.client, bob)}

    assert seen_by_alice == alices | {shared["id"]}
    assert seen_by_bob == bobs | {shared["id"]}


async def test_removed_member_loses_access(factory: Factory) -> None:
    owner = await factory.user("owner")
    workspace = await factory.workspace(owner, name="Former")
    member = await factory.member(workspace, owner, "editor")
    note = await factory.note(workspace, owner)
    url = f"/v1/workspaces/{workspace['id']}/notes/{note['id']}"
    assert (await factory.client.get(url, headers=member.headers)).status_code == 200

    removed = await factory.client.delete(
        f"/v1/workspaces/{workspace['id']}/members/{member.user_id}", headers=owner.headers
    )
    assert removed.status_code == 204

    assert_problem(await factory.client.get(url, headers=member.headers), 404)
    listed = await list_all_workspaces(factory.client, member)
    assert workspace["id"] not in {w["id"] for w in listed}
