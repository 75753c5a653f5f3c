"""What an agent token opens: the scope matrix, walked over the app's own routes.

The route list is not written down here: the tests walk ``app.routes`` (as
``tests/test_tenancy.py`` does, reusing its request builder and seed), so a route added later
is covered the day it is added. Each test builds one seeded workspace and loops over every
route, collecting every wrong answer, so that a failure names every bad (route, scope) pair.

The rules: a reading route needs the scope ``<its first OpenAPI tag>:read``; owner-only reads
(the audit log) are closed to agents whatever their scopes; every direct write is refused with
a pointer to proposals; an agent's token works in its own workspace only.
"""

from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ainotes.core.ids import new_id
from tests.factories import ALL_SCOPES, AgentActor, Factory
from tests.problems import assert_problem
from tests.test_openapi import Operation, api_operations
from tests.test_tenancy import (
    PATH_PARAM,
    RequestBuilder,
    Victim,
    make_victim,
    seed,
    workspace_operations,
)

pytestmark = pytest.mark.anyio

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# Sections agents may never read, whatever the scopes of their token.
OWNER_ONLY_SECTIONS = {"audit"}


@dataclass
class World:
    """A seeded workspace, its agents (one token per scope, and one with every scope), and an
    agent of another workspace holding every scope."""

    victim: Victim
    builder: RequestBuilder
    by_scope: dict[str, AgentActor] = field(default_factory=dict)
    everything: AgentActor | None = None
    foreign: AgentActor | None = None

    @property
    def workspace_id(self) -> str:
        return str(self.victim.workspace["id"])

    @property
    def ws(self) -> str:
        return f"/v1/workspaces/{self.workspace_id}"

    @property
    def all_scopes(self) -> AgentActor:
        assert self.everything is not None
        return self.everything

    @property
    def stranger(self) -> AgentActor:
        assert self.foreign is not None
        return self.foreign


async def issue(
    factory: Factory, world_ws: str, owner_headers: dict[str, str], agent_id: str, scope: str
) -> str:
    response = await factory.client.post(
        f"{world_ws}/agents/{agent_id}/tokens",
        json={"name": scope, "scopes": [scope]},
        headers=owner_headers,
    )
    assert response.status_code == 201, response.text
    secret: str = response.json()["token"]
    return secret


async def build_world(factory: Factory, app: FastAPI) -> World:
    victim = await make_victim(factory)
    builder = RequestBuilder(app.openapi(), victim.ids)
    await seed(factory, app, builder, victim)
    world = World(victim, builder)
    world.everything = await factory.agent(victim.workspace, victim.owner, name="everything")
    # One agent, one token per scope: a token holds exactly one scope.
    single = await factory.agent(victim.workspace, victim.owner, scopes=("notes:read",))
    for scope in ALL_SCOPES:
        secret = await issue(factory, world.ws, victim.owner.headers, single.agent_id, scope)
        world.by_scope[scope] = AgentActor(single.agent_id, world.workspace_id, secret)
    elsewhere_owner = await factory.user("elsewhere")
    elsewhere = await factory.workspace(elsewhere_owner, name="Elsewhere")
    world.foreign = await factory.agent(elsewhere, elsewhere_owner, name="foreign")
    return world


def section_of(op: Operation) -> str:
    return str(op.route.tags[0]) if op.route.tags else ""


def required_scope(op: Operation) -> str | None:
    """The one scope that opens a reading route to agents; None when none does."""
    section = section_of(op)
    scope = f"{section}:read"
    if section in OWNER_ONLY_SECTIONS or scope not in ALL_SCOPES:
        return None
    return scope


def reading_operations(app: FastAPI) -> list[Operation]:
    return [op for op in workspace_operations(app) if op.method == "GET"]


def writing_operations(app: FastAPI) -> list[Operation]:
    return [
        op
        for op in workspace_operations(app)
        if op.method in WRITE_METHODS and "/proposals" not in op.path
    ]


def write_headers(world: World, op: Operation, agent: AgentActor) -> dict[str, str]:
    """The route's documented headers (If-Match, …), the agent's token and a fresh key."""
    headers = {k: v for k, v in world.builder.headers(op).items() if k != "idempotency-key"}
    return {**headers, **agent.writing()}


def describe(op: Operation, who: str, response: httpx.Response) -> str:
    return f"{op.method} {op.path} [{who}]: {response.status_code} {response.text[:300]}"


async def audit_snapshot(factory: Factory, world: World) -> list[tuple[int, str]]:
    response = await factory.client.get(
        f"{world.ws}/audit",
        params={"limit": "100", "order": "asc"},
        headers=world.victim.owner.headers,
    )
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["next_cursor"] is None
    return [(e["seq"], e["hash"]) for e in page["items"]]


def problem_slug(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    kind = body.get("type", "") if isinstance(body, dict) else ""
    return str(kind).rsplit("/", 1)[-1]


async def test_every_reading_route_needs_the_scope_of_its_section(
    factory: Factory, app: FastAPI
) -> None:
    world = await build_world(factory, app)
    operations = reading_operations(app)
    assert len(operations) >= 20
    unresolved = [
        op.path
        for op in operations
        for name in PATH_PARAM.findall(op.path)
        if name.endswith("_id") and name != "workspace_id" and name not in world.victim.ids
    ]
    assert unresolved == [], "the seed left path ids unresolved; the matrix would be vacuous"

    failures: list[str] = []
    opened: dict[str, int] = dict.fromkeys(ALL_SCOPES, 0)
    for op in operations:
        url = world.builder.path(op, world.workspace_id, world.victim.ids)
        params = world.builder.query(op)
        needed = required_scope(op)
        holders = [(scope, world.by_scope[scope]) for scope in ALL_SCOPES]
        holders.append(("<all scopes>", world.all_scopes))
        for scope, agent in holders:
            response = await factory.client.get(url, params=params, headers=agent.headers)
            allowed = needed is not None and (scope == needed or scope == "<all scopes>")
            if allowed:
                if not 200 <= response.status_code < 300:
                    failures.append(describe(op, scope, response))
                elif scope in opened:
                    opened[scope] += 1
                continue
            if response.status_code != 403 or problem_slug(response) != "insufficient-scope":
                failures.append(describe(op, scope, response))
                continue
            problem = assert_problem(response, 403, "insufficient-scope")
            if problem.get("required_scope") != needed:
                failures.append(
                    f"{op.method} {op.path} [{scope}]: required_scope "
                    f"{problem.get('required_scope')!r}, expected {needed!r}"
                )
    assert failures == []
    # The matrix is not vacuous: every read scope of a section with routes opened some.
    sections = {section_of(op) for op in operations}
    for scope in ALL_SCOPES:
        section = scope.split(":")[0]
        if scope.endswith(":read") and section in sections and section not in OWNER_ONLY_SECTIONS:
            assert opened[scope] > 0, scope


async def test_owner_only_reads_are_closed_to_agents(factory: Factory, app: FastAPI) -> None:
    world = await build_world(factory, app)
    audit_routes = [op for op in reading_operations(app) if section_of(op) in OWNER_ONLY_SECTIONS]
    assert {op.path for op in audit_routes} >= {
        "/v1/workspaces/{workspace_id}/audit",
        "/v1/workspaces/{workspace_id}/audit/verify",
    }
    failures = []
    for op in audit_routes:
        url = world.builder.path(op, world.workspace_id, world.victim.ids)
        for agent in (world.all_scopes, *world.by_scope.values()):
            response = await factory.client.get(url, headers=agent.headers)
            if response.status_code != 403:
                failures.append(describe(op, "agent", response))
                continue
            assert_problem(response, 403)
        owner = await factory.client.get(url, headers=world.victim.owner.headers)
        if owner.status_code != 200:
            failures.append(describe(op, "owner", owner))
    assert failures == []


async def test_every_direct_write_is_refused_with_a_pointer_to_proposals(
    factory: Factory, app: FastAPI
) -> None:
    world = await build_world(factory, app)
    before = await audit_snapshot(factory, world)
    operations = writing_operations(app)
    assert len(operations) >= 20
    proposals_url = f"{world.ws}/proposals"
    failures: list[str] = []
    for op in operations:
        url = world.builder.path(op, world.workspace_id, world.victim.ids)
        params = world.builder.query(op)
        bodies = [("valid body", world.builder.body(op))]
        if "json" in bodies[0][1]:
            # The access check comes before the body is validated: an empty body is refused
            # for being an agent's, not for being empty.
            bodies.append(("empty body", {"json": {}}))
        for label, body in bodies:
            response = await factory.client.request(
                op.method,
                url,
                params=params,
                headers=write_headers(world, op, world.all_scopes),
                **body,
            )
            if response.status_code != 403 or problem_slug(response) != "agent-write-forbidden":
                failures.append(describe(op, label, response))
                continue
            problem = assert_problem(response, 403, "agent-write-forbidden")
            if problem.get("proposals_url") != proposals_url:
                failures.append(f"{op.method} {op.path}: proposals_url {problem!r}")
    assert failures == []

    # The walk changed nothing.
    assert await audit_snapshot(factory, world) == before
    note = await factory.client.get(
        f"{world.ws}/notes/{world.victim.ids['note_id']}", headers=world.victim.owner.headers
    )
    assert note.status_code == 200, note.text
    assert note.json()["version"] == 1


async def test_an_agent_of_another_workspace_finds_nothing(factory: Factory, app: FastAPI) -> None:
    world = await build_world(factory, app)
    before = await audit_snapshot(factory, world)
    operations = reading_operations(app) + writing_operations(app)
    failures: list[str] = []
    for op in operations:
        url = world.builder.path(op, world.workspace_id, world.victim.ids)
        kwargs: dict[str, Any] = {"params": world.builder.query(op)}
        if op.method == "GET":
            kwargs["headers"] = world.stranger.headers
        else:
            kwargs["headers"] = write_headers(world, op, world.stranger)
            kwargs.update(world.builder.body(op))
        response = await factory.client.request(op.method, url, **kwargs)
        if response.status_code != 404 or problem_slug(response) != "workspace-not-found":
            failures.append(describe(op, "foreign agent", response))
            continue
        assert_problem(response, 404, "workspace-not-found")
        if world.victim.secret in response.text:
            failures.append(f"{op.method} {op.path}: leaks the workspace's content")
    assert failures == []
    assert await audit_snapshot(factory, world) == before


async def test_agent_writes_must_carry_an_idempotency_key(factory: Factory, app: FastAPI) -> None:
    owner = await factory.user("owner")
    workspace = await factory.workspace(owner)
    agent = await factory.agent(workspace, owner)
    url = f"/v1/workspaces/{workspace['id']}/notes"
    body = {"title": "t", "body": "b"}
    missing = await factory.client.post(url, json=body, headers=agent.headers)
    assert_problem(missing, 400, "idempotency-key-missing")
    refused = await factory.client.post(url, json=body, headers=agent.writing())
    problem = assert_problem(refused, 403, "agent-write-forbidden")
    assert problem["proposals_url"] == f"/v1/workspaces/{workspace['id']}/proposals"


async def test_user_only_routes_refuse_agents(factory: Factory, app: FastAPI) -> None:
    owner = await factory.user("owner")
    workspace = await factory.workspace(owner)
    agent = await factory.agent(workspace, owner)
    operations = [
        op for op in api_operations(app) if op.path.startswith(("/v1/users", "/v1/tokens"))
    ]
    assert {(op.method, op.path) for op in operations} >= {
        ("GET", "/v1/users/me"),
        ("GET", "/v1/tokens"),
        ("POST", "/v1/tokens"),
        ("DELETE", "/v1/tokens/{token_id}"),
    }
    own_token = await factory.client.post(
        "/v1/tokens", json={"name": "kept"}, headers=owner.headers
    )
    assert own_token.status_code == 201, own_token.text
    failures = []
    for op in operations:
        url = PATH_PARAM.sub(lambda _: str(own_token.json()["id"]), op.path)
        if op.method == "GET":
            response = await factory.client.get(url, headers=agent.headers)
        else:
            kwargs: dict[str, Any] = {"json": {"name": "mine"}} if op.method == "POST" else {}
            response = await factory.client.request(
                op.method, url, headers=agent.writing(), **kwargs
            )
        if response.status_code != 403:
            failures.append(describe(op, "agent", response))
            continue
        assert_problem(response, 403)
    assert failures == []
    # The owner's token was not revoked by the agent's attempt.
    listed = await factory.client.get("/v1/tokens", headers=owner.headers)
    by_id = {t["id"]: t for t in listed.json()}
    assert by_id[own_token.json()["id"]]["revoked_at"] is None


async def test_workspace_listing_shows_only_the_agents_workspace(factory: Factory) -> None:
    owner = await factory.user("owner")
    workspace = await factory.workspace(owner, name="Home")
    await factory.workspace(owner, name="Another of the owner's")
    reader = await factory.agent(workspace, owner, scopes=("workspaces:read",))
    blind = await factory.agent(workspace, owner, scopes=("notes:read", "tasks:read"))

    listed = await factory.client.get("/v1/workspaces", headers=reader.headers)
    assert listed.status_code == 200, listed.text
    page = listed.json()
    assert [w["id"] for w in page["items"]] == [workspace["id"]]
    assert page["next_cursor"] is None
    one = await factory.client.get(f"/v1/workspaces/{workspace['id']}", headers=reader.headers)
    assert one.status_code == 200, one.text
    assert one.json()["id"] == workspace["id"]

    problem = assert_problem(
        await factory.client.get("/v1/workspaces", headers=blind.headers),
        403,
        "insufficient-scope",
    )
    assert problem["required_scope"] == "workspaces:read"


async def test_agents_cannot_create_workspaces(factory: Factory) -> None:
    owner = await factory.user("owner")
    workspace = await factory.workspace(owner)
    agent = await factory.agent(workspace, owner)
    response = await factory.client.post(
        "/v1/workspaces", json={"name": "Agent's own"}, headers=agent.writing()
    )
    assert_problem(response, 403, "agent-write-forbidden")
    listed = await factory.client.get("/v1/workspaces", headers=agent.headers)
    assert [w["id"] for w in listed.json()["items"]] == [workspace["id"]]
    mine = await factory.client.get("/v1/workspaces", headers=owner.headers)
    assert "Agent's own" not in mine.text


async def test_unknown_workspace_is_404_for_agents(factory: Factory) -> None:
    owner = await factory.user("owner")
    workspace = await factory.workspace(owner)
    agent = await factory.agent(workspace, owner)
    unknown = f"/v1/workspaces/{new_id()}"
    assert_problem(
        await factory.client.get(f"{unknown}/notes", headers=agent.headers),
        404,
        "workspace-not-found",
    )
    assert_problem(
        await factory.client.post(
            f"{unknown}/notes", json={"title": "t", "body": "b"}, headers=agent.writing()
        ),
        404,
        "workspace-not-found",
    )
