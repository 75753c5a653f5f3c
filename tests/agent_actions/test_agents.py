"""The agents of a workspace and their tokens: who may manage them, what a token can do once
issued, and how revoking, disabling and expiry stop it; every change is in the audit log."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from ainotes.auth.models import AgentToken
from ainotes.core.access_cache import mark_access_changed
from ainotes.core.db import Database
from ainotes.core.ids import new_id
from tests.factories import Actor, AgentActor, Factory
from tests.problems import assert_problem
from tests.test_openapi import api_operations

pytestmark = pytest.mark.anyio


@dataclass
class Team:
    """A workspace with an owner, an editor and a viewer."""

    owner: Actor
    editor: Actor
    viewer: Actor
    workspace: dict[str, Any]

    @property
    def ws(self) -> str:
        return f"/v1/workspaces/{self.workspace['id']}"

    @property
    def agents(self) -> str:
        return f"{self.ws}/agents"


async def make_team(factory: Factory) -> Team:
    owner = await factory.user("owner")
    workspace = await factory.workspace(owner, name="Agents")
    editor = await factory.member(workspace, owner, "editor", name="editor")
    viewer = await factory.member(workspace, owner, "viewer", name="viewer")
    return Team(owner, editor, viewer, workspace)


async def create_agent(
    client: httpx.AsyncClient, team: Team, manager: Actor, **fields: Any
) -> dict[str, Any]:
    response = await client.post(
        team.agents, json={"name": "Summarizer", **fields}, headers=manager.headers
    )
    assert response.status_code == 201, response.text
    agent: dict[str, Any] = response.json()
    return agent


async def issue_token(
    client: httpx.AsyncClient,
    team: Team,
    manager: Actor,
    agent_id: str,
    scopes: list[str],
    **fields: Any,
) -> dict[str, Any]:
    response = await client.post(
        f"{team.agents}/{agent_id}/tokens",
        json={"name": "bot", "scopes": scopes, **fields},
        headers=manager.headers,
    )
    assert response.status_code == 201, response.text
    token: dict[str, Any] = response.json()
    return token


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def audit_events(
    client: httpx.AsyncClient, team: Team, **params: Any
) -> list[dict[str, Any]]:
    """Every event of the workspace's chain, oldest first, read by its owner."""
    events: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {"order": "asc", "limit": "100", **params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(f"{team.ws}/audit", params=query, headers=team.owner.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        events.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return events


def assert_unauthenticated(response: httpx.Response) -> None:
    assert_problem(response, 401, "invalid-credentials")
    assert response.headers["www-authenticate"].startswith("Bearer")


class TestCreateAndRead:
    async def test_owner_creates_an_agent_and_reads_it_back(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        team = await make_team(factory)
        response = await client.post(
            team.agents,
            json={"name": "  Summarizer  ", "description": "Writes weekly summaries."},
            headers=team.owner.headers,
        )
        assert response.status_code == 201, response.text
        agent = response.json()
        assert agent["name"] == "Summarizer"
        assert agent["description"] == "Writes weekly summaries."
        assert agent["workspace_id"] == team.workspace["id"]
        assert agent["created_by"] == team.owner.user_id
        assert agent["disabled_at"] is None

        fetched = await client.get(f"{team.agents}/{agent['id']}", headers=team.owner.headers)
        assert fetched.status_code == 200, fetched.text
        assert fetched.json() == agent
        assert (
            await client.get(f"{team.agents}/{agent['id']}/tokens", headers=team.owner.headers)
        ).json() == []

    async def test_description_defaults_to_empty(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        team = await make_team(factory)
        agent = await create_agent(client, team, team.owner)
        assert agent["description"] == ""

    async def test_listing_pages_through_every_agent_in_creation_order(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        team = await make_team(factory)
        created = [
            (await create_agent(client, team, team.owner, name=f"Agent {n}"))["id"]
            for n in range(5)
        ]
        # Another workspace's agents are not listed.
        other = await make_team(factory)
        await create_agent(client, other, other.owner, name="Elsewhere")

        seen: list[str] = []
        pages = 0
        cursor: str | None = None
        while True:
            params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
            response = await client.get(team.agents, params=params, headers=team.owner.headers)
            assert response.status_code == 200, response.text
            page = response.json()
            assert len(page["items"]) <= 2
            seen.extend(item["id"] for item in page["items"])
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == created
        assert pages == 3

    async def test_bad_listing_parameters_are_problems(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        team = await make_team(factory)
        headers = team.owner.headers
        assert_problem(
            await client.get(team.agents, params={"cursor": "garbage"}, headers=headers),
            400,
            "invalid-cursor",
        )
        for limit in ("0", "-1", "100000", "two"):
            assert_problem(
                await client.get(team.agents, params={"limit": limit}, headers=headers),
                422,
                "validation-failed",
            )

    async def test_unknown_or_malformed_agent_id(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        team = await make_team(factory)
        headers = team.owner.headers
        unknown = new_id()
        assert_problem(
            await client.get(f"{team.agents}/{unknown}", headers=headers), 404, "agent-not-found"
        )
        assert_problem(
            await client.patch(f"{team.agents}/{unknown}", json={"name": "x"}, headers=headers),
            404,
            "agent-not-found",
        )
        assert_problem(
            await client.get(f"{team.agents}/{unknown}/tokens", headers=headers),
            404,
            "agent-not-found",
        )
        assert_problem(
            await client.post(
                f"{team.agents}/{unknown}/tokens",
                json={"name": "t", "scopes": ["notes:read"]},
                headers=headers,
            ),
            404,
            "agent-not-found",
        )
        assert_problem(
            await client.get(f"{team.agents}/not-an-id", headers=headers), 422, "validation-failed"
        )


class TestUpdate:
    async def test_rename_and_describe(self, client: httpx.AsyncClient, factory: Factory) -> None:
        team = await make_team(factory)
        agent = await create_agent(client, team, team.owner)
        url = f"{team.agents}/{agent['id']}"

        renamed = await client.patch(url, json={"name": "Reviewer"}, headers=team.editor.headers)
        assert renamed.status_code == 200, renamed.text
        assert renamed.json()["name"] == "Reviewer"
        assert renamed.json()["description"] == ""

        described = await client.patch(
            url, json={"description": "Reviews drafts."}, headers=team.owner.headers
        )
        assert described.status_code == 200, described.text
        assert (described.json()["name"], described.json()["description"]) == (
            "Reviewer",
            "Reviews drafts.",
        )
        fetched = await client.get(url, headers=team.viewer.headers)
        assert fetched.json()["name"] == "Reviewer"

    async def test_a_patch_that_changes_nothing_records_nothing(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        team = await make_team(factory)
        agent = await create_agent(client, team, team.owner)
        before = await audit_events(client, team)
        url = f"{team.agents}/{agent['id']}"
        for body in ({}, {"name": "Summarizer"}, {"disabled": False}):
            response = await client.patch(url, json=body, headers=team.owner.headers)
            assert response.status_code == 200, response.text
            assert response.json()["name"] == "Summarizer"
            assert response.json()["disabled_at"] is None
        assert await audit_events(client, team) == before

    @pytest.mark.parametrize(
        "body",
        [
            {"name": ""},
            {"name": "   "},
            {"name": "x" * 201},
            {"name": 123},
            {"description": "x" * 2001},
            {"disabled": {"yes": True}},
            {"disabled": [True]},
            {"unknown": "field"},
            ["name"],
            "name",
        ],
    )
    async def test_invalid_bodies_are_422(
        self, client: httpx.AsyncClient, factory: Factory, body: Any
    ) -> None:
        team = await make_team(factory)
        agent = await create_agent(client, team, team.owner)
        url = f"{team.agents}/{agent['id']}"
        assert_problem(
            await client.patch(url, json=body, headers=team.owner.headers),
            422,
            "validation-failed",
        )
        assert (await client.get(url, headers=team.owner.headers)).json() == agent


class TestBadBodies:
    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"name": ""},
            {"name": "x" * 201},
            {"name": None},
            {"name": ["a"]},
            {"name": "ok", "description": 5},
            {"name": "ok", "description": "x" * 2001},
            {"name": "ok", "workspace_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"},
            [{"name": "ok"}],
        ],
    )
    async def test_create_with_an_invalid_body_is_422_and_creates_nothing(
        self, client: httpx.AsyncClient, factory: Factory, body: Any
    ) -> None:
        team = await make_team(factory)
        response = await client.post(team.agents, json=body, headers=team.owner.headers)
        problem = assert_problem(response, 422, "validation-failed")
        assert problem["errors"]
        listed = await client.get(team.agents, headers=team.owner.headers)
        assert listed.json()["items"] == []

    async def test_malformed_json_is_400_on_every_write(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        team = await make_team(factory)
        agent = await create_agent(client, team, team.owner)
        headers = {**team.owner.headers, "Content-Type": "application/json"}
        for method, url in (
            ("POST", team.agents),
            ("PATCH", f"{team.agents}/{agent['id']}"),
            ("POST", f"{team.agents}/{agent['id']}/tokens"),
        ):
            response = await client.request(method, url, content=b'{"name": ', headers=headers)
            assert_problem(response, 400, "malformed-body")

    @pytest.mark.parametrize(
        "body",
        [
            {"name": "t", "scopes": []},
            {"name": "t", "scopes": ["notes:write"]},
            {"name": "t", "scopes": ["notes:read", "admin"]},
            {"name": "t", "scopes": ["NOTES:READ"]},
            {"name": "t", "scopes": "notes:read"},
            {"name": "t", "scopes": None},
            {"name": "t"},
            {"scopes": ["notes:read"]},
            {"name": "", "scopes": ["notes:read"]},
            {"name": "t", "scopes": ["notes:read"], "expires_in_days": 0},
            {"name": "t", "scopes": ["notes:read"], "expires_in_days": 3651},
            {"name": "t", "scopes": ["notes:read"], "expires_in_days": "soon"},
            {"name": "t", "scopes": ["notes:read"], "token": "ain_agt_chosen"},
        ],
    )
    async def test_token_with_an_invalid_body_is_422_and_issues_nothing(
        self, client: httpx.AsyncClient, factory: Factory, body: Any
    ) -> None:
        team = await make_team(factory)
        agent = await create_agent(client, team, team.owner)
        url = f"{team.agents}/{agent['id']}/tokens"
        assert_problem(
            await client.post(url, json=body, headers=team.owner.headers),
            422,
            "validation-failed",
        )
        assert (await client.get(url, headers=team.owner.headers)).json() == []


class TestTokens:
    async def test_the_secret_is_shown_once_and_works(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        team = await make_team(factory)
        agent = await create_agent(client, team, team.editor)
        before = datetime.now(UTC)
        token = await issue_token(
            client,
            team,
            team.editor,
            agent["id"],
            ["search:read", "notes:read", "notes:read", "attachments:read"],
        )
        secret = token["token"]
        assert secret.startswith("ain_agt_")
        assert len(secret) > 24
        assert token["token_prefix"] == secret[:16]
        assert token["agent_id"] == agent["id"]
        assert token["name"] == "bot"
        assert token["scopes"] == ["attachments:read", "notes:read", "search:read"]
        assert token["created_by"] == team.editor.user_id
        assert token["expires_at"] is None
        assert token["revoked_at"] is None
        assert datetime.fromisoformat(token["created_at"]) >= before - timedelta(seconds=5)

        listed = await client.get(f"{team.agents}/{agent['id']}/tokens", headers=team.owner.headers)
        assert listed.status_code == 200, listed.text
        assert secret not in listed.text
        [item] = listed.json()
        assert "token" not in item
        assert item["id"] == token["id"]
        assert item["scopes"] == ["attachments:read", "notes:read", "search:read"]
        assert item["token_prefix"] == secret[:16]

        # The agent reads what its scopes open.
        notes = await client.get(f"{team.ws}/notes", headers=bearer(secret))
        assert notes.status_code == 200, notes.text
        # ... and nothing else.
        problem = assert_problem(
            await client.get(f"{team.ws}/tasks", headers=bearer(secret)),
            403,
            "insufficient-scope",
        )
        assert problem["required_scope"] == "tasks:read"

    async def test_an_agent_may_hold_several_tokens(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        team = await make_team(factory)
        agent = await create_agent(client, team, team.owner)
        first = await issue_token(client, team, team.owner, agent["id"], ["notes:read"])
        second = await issue_token(client, team, team.owner, agent["id"], ["tasks:read"])
        assert first["token"] != second["token"]
        listed = await client.get(f"{team.agents}/{agent['id']}/tokens", headers=team.owner.headers)
        assert sorted(t["id"] for t in listed.json()) == sorted([first["id"], second["id"]])
        # Each token carries its own scopes, not the union of the agent's.
        assert (
            await client.get(f"{team.ws}/notes", headers=bearer(first["token"]))
        ).status_code == 200
        assert_problem(
            await client.get(f"{team.ws}/notes", headers=bearer(second["token"])),
            403,
            "insufficient-scope",
        )
        assert (
            await client.get(f"{team.ws}/tasks", headers=bearer(second["token"]))
        ).status_code == 200

    async def test_expires_in_days_sets_the_expiry(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        team = await make_team(factory)
        agent = await create_agent(client, team, team.owner)
        token = await issue_token(
            client, team, team.owner, agent["id"], ["notes:read"], expires_in_days=30
        )
        expires = datetime.fromisoformat(token["expires_at"])
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        expected = datetime.now(UTC) + timedelta(days=30)
        assert abs(expires - expected) < timedelta(minutes=5)

    async def test_an_expired_token_is_refused(
        self, client: httpx.AsyncClient, factory: Factory, database: Database
    ) -> None:
        team = await make_team(factory)
        agent = await create_agent(client, team, team.owner)
        token = await issue_token(
            client, team, team.owner, agent["id"], ["notes:read"], expires_in_days=1
        )
        url = f"{team.ws}/notes"
        assert (await client.get(url, headers=bearer(token["token"]))).status_code == 200
        async with database.write_session() as session:
            await session.execute(
                update(AgentToken)
                .where(AgentToken.id == token["id"])
                .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
            # Moving the expiry is not something the API does; the access cache remembers the
            # old one unless told (tests/workspaces/test_access_cache.py covers real expiry).
            mark_access_changed(session)
        assert_unauthenticated(await client.get(url, headers=bearer(token["token"])))
        # Writes too: the 401 comes before anything else.
        assert_unauthenticated(
            await client.post(
                f"{team.ws}/notes",
                json={"title": "x", "body": "y"},
                headers={**bearer(token["token"]), "Idempotency-Key": new_id()},
            )
        )

    async def test_an_unknown_or_mangled_agent_token_is_refused(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        team = await make_team(factory)
        agent = await factory.agent(team.workspace, team.owner, scopes=("notes:read",))
        url = f"{team.ws}/notes"
        assert_unauthenticated(await client.get(url, headers=bearer(agent.token + "x")))
        assert_unauthenticated(await client.get(url, headers=bearer("ain_agt_" + "a" * 40)))

    async def test_revoking_stops_the_token_once(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        team = await make_team(factory)
        agent = await create_agent(client, team, team.owner)
        token = await issue_token(client, team, team.owner, agent["id"], ["notes:read"])
        kept = await issue_token(client, team, team.owner, agent["id"], ["notes:read"])
        url = f"{team.ws}/notes"
        assert (await client.get(url, headers=bearer(token["token"]))).status_code == 200

        revoke_url = f"{team.agents}/{agent['id']}/tokens/{token['id']}"
        revoked = await client.delete(revoke_url, headers=team.editor.headers)
        assert revoked.status_code == 200, revoked.text
        assert revoked.json()["id"] == token["id"]
        assert revoked.json()["revoked_at"] is not None
        assert "token" not in revoked.json()

        assert_unauthenticated(await client.get(url, headers=bearer(token["token"])))
        # The agent's other token is untouched.
        assert (await client.get(url, headers=bearer(kept["token"]))).status_code == 200

        again = await client.delete(revoke_url, headers=team.owner.headers)
        assert again.status_code == 200, again.text
        assert again.json()["revoked_at"] == revoked.json()["revoked_at"]
        assert_unauthenticated(await client.get(url, headers=bearer(token["token"])))

        revocations = await audit_events(client, team, action="agent_token.revoked")
        assert [(e["target_id"], e["actor_id"]) for e in revocations] == [
            (token["id"], team.editor.user_id)
        ]
        listed = await client.get(f"{team.agents}/{agent['id']}/tokens", headers=team.owner.headers)
        by_id = {t["id"]: t for t in listed.json()}
        assert by_id[token["id"]]["revoked_at"] == revoked.json()["revoked_at"]
        assert by_id[kept["id"]]["revoked_at"] is None

    async def test_revoking_an_unknown_token_is_404(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        team = await make_team(factory)
        agent = await create_agent(client, team, team.owner)
        other_agent = await create_agent(client, team, team.owner, name="Other")
        token = await issue_token(client, team, team.owner, other_agent["id"], ["notes:read"])
        headers = team.owner.headers
        assert_problem(
            await client.delete(f"{team.agents}/{agent['id']}/tokens/{new_id()}", headers=headers),
            404,
            "agent-token-not-found",
        )
        # A token of another agent of the same workspace is not this agent's.
        assert_problem(
            await client.delete(
                f"{team.agents}/{agent['id']}/tokens/{token['id']}", headers=headers
            ),
            404,
            "agent-token-not-found",
        )
        assert (
            await client.get(f"{team.ws}/notes", headers=bearer(token["token"]))
        ).status_code == 200

    async def test_disabling_stops_every_token_at_once_and_enabling_restores_them(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        team = await make_team(factory)
        agent = await create_agent(client, team, team.owner)
        first = await issue_token(client, team, team.owner, agent["id"], ["notes:read"])
        second = await issue_token(client, team, team.owner, agent["id"], ["workspaces:read"])
        url = f"{team.agents}/{agent['id']}"
        notes = f"{team.ws}/notes"
        assert (await client.get(notes, headers=bearer(first["token"]))).status_code == 200
        assert (await client.get(team.ws, headers=bearer(second["token"]))).status_code == 200

        disabled = await client.patch(url, json={"disabled": True}, headers=team.editor.headers)
        assert disabled.status_code == 200, disabled.text
        assert disabled.json()["disabled_at"] is not None
        assert_unauthenticated(await client.get(notes, headers=bearer(first["token"])))
        assert_unauthenticated(await client.get(team.ws, headers=bearer(second["token"])))
        # Disabling twice changes nothing.
        twice = await client.patch(url, json={"disabled": True}, headers=team.owner.headers)
        assert twice.json()["disabled_at"] == disabled.json()["disabled_at"]
        # A disabled agent can still be read and given tokens, which do not work yet.
        third = await issue_token(client, team, team.owner, agent["id"], ["notes:read"])
        assert_unauthenticated(await client.get(notes, headers=bearer(third["token"])))

        enabled = await client.patch(url, json={"disabled": False}, headers=team.owner.headers)
        assert enabled.status_code == 200, enabled.text
        assert enabled.json()["disabled_at"] is None
        for token in (first, third):
            assert (await client.get(notes, headers=bearer(token["token"]))).status_code == 200
        assert (await client.get(team.ws, headers=bearer(second["token"]))).status_code == 200

        actions = [e["action"] for e in await audit_events(client, team, target_id=agent["id"])]
        assert actions == ["agent.created", "agent.disabled", "agent.enabled"]

    async def test_disabling_one_agent_leaves_the_others_working(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        team = await make_team(factory)
        stopped = await factory.agent(team.workspace, team.owner, scopes=("notes:read",))
        running = await factory.agent(team.workspace, team.owner, scopes=("notes:read",))
        response = await client.patch(
            f"{team.agents}/{stopped.agent_id}", json={"disabled": True}, headers=team.owner.headers
        )
        assert response.status_code == 200, response.text
        assert_unauthenticated(await client.get(f"{team.ws}/notes", headers=stopped.headers))
        assert (await client.get(f"{team.ws}/notes", headers=running.headers)).status_code == 200


class TestRoles:
    async def test_editors_manage_agents(self, client: httpx.AsyncClient, factory: Factory) -> None:
        team = await make_team(factory)
        agent = await create_agent(client, team, team.editor, name="Editor's")
        assert agent["created_by"] == team.editor.user_id
        patched = await client.patch(
            f"{team.agents}/{agent['id']}", json={"name": "Renamed"}, headers=team.editor.headers
        )
        assert patched.status_code == 200, patched.text
        token = await issue_token(client, team, team.editor, agent["id"], ["notes:read"])
        revoked = await client.delete(
            f"{team.agents}/{agent['id']}/tokens/{token['id']}", headers=team.editor.headers
        )
        assert revoked.status_code == 200, revoked.text

    async def test_viewers_read_agents_but_cannot_manage_them(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        team = await make_team(factory)
        agent = await create_agent(client, team, team.owner)
        token = await issue_token(client, team, team.owner, agent["id"], ["notes:read"])
        headers = team.viewer.headers
        base = f"{team.agents}/{agent['id']}"
        before = await audit_events(client, team)

        for method, url, body in (
            ("POST", team.agents, {"name": "Mine"}),
            ("PATCH", base, {"name": "Mine"}),
            ("PATCH", base, {"disabled": True}),
            ("POST", f"{base}/tokens", {"name": "t", "scopes": ["notes:read"]}),
            ("DELETE", f"{base}/tokens/{token['id']}", None),
        ):
            kwargs: dict[str, Any] = {"json": body} if body is not None else {}
            response = await client.request(method, url, headers=headers, **kwargs)
            assert_problem(response, 403, "insufficient-role")

        assert (await client.get(team.agents, headers=headers)).status_code == 200
        assert (await client.get(base, headers=headers)).json() == agent
        listed = await client.get(f"{base}/tokens", headers=headers)
        assert listed.status_code == 200
        assert token["token"] not in listed.text
        # Nothing changed: the token still works and nothing was recorded.
        assert (
            await client.get(f"{team.ws}/notes", headers=bearer(token["token"]))
        ).status_code == 200
        assert await audit_events(client, team) == before

    async def test_non_members_get_404_from_every_agents_route(
        self, client: httpx.AsyncClient, factory: Factory, app: FastAPI
    ) -> None:
        team = await make_team(factory)
        agent = await create_agent(client, team, team.owner)
        token = await issue_token(client, team, team.owner, agent["id"], ["notes:read"])
        stranger = await factory.user("stranger")
        await factory.workspace(stranger, name="Stranger's own")
        before = await audit_events(client, team)
        ids = {
            "workspace_id": team.workspace["id"],
            "agent_id": agent["id"],
            "token_id": token["id"],
        }
        bodies: dict[str, Any] = {
            "POST /v1/workspaces/{workspace_id}/agents": {"name": "Mine"},
            "PATCH /v1/workspaces/{workspace_id}/agents/{agent_id}": {"disabled": True},
            "POST /v1/workspaces/{workspace_id}/agents/{agent_id}/tokens": {
                "name": "t",
                "scopes": ["notes:read"],
            },
        }
        operations = [op for op in api_operations(app) if op.route.tags[:1] == ["agents"]]
        assert len(operations) >= 7
        failures = []
        for op in operations:
            url = op.path.format(**ids)
            body = bodies.get(f"{op.method} {op.path}")
            kwargs: dict[str, Any] = {"json": body} if body is not None else {}
            response = await client.request(op.method, url, headers=stranger.headers, **kwargs)
            if response.status_code != 404:
                failures.append(f"{op.method} {op.path}: {response.status_code} {response.text}")
                continue
            problem = assert_problem(response, 404, "workspace-not-found")
            if agent["name"] in response.text and agent["name"] not in str(body):
                failures.append(f"{op.method} {op.path} leaks the agent: {problem}")
        assert failures == []
        assert (
            await client.get(f"{team.ws}/notes", headers=bearer(token["token"]))
        ).status_code == 200
        assert await audit_events(client, team) == before

    async def test_ids_of_another_workspace_are_not_found(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        # One owner holds both workspaces: membership is not what keeps the ids apart.
        team = await make_team(factory)
        other_workspace = await factory.workspace(team.owner, name="Other")
        other = Team(team.owner, team.editor, team.viewer, other_workspace)
        theirs = await create_agent(client, other, team.owner, name="Theirs")
        their_token = await issue_token(client, other, team.owner, theirs["id"], ["notes:read"])
        mine = await create_agent(client, team, team.owner, name="Mine")
        headers = team.owner.headers
        wrong = f"{team.agents}/{theirs['id']}"

        assert_problem(await client.get(wrong, headers=headers), 404, "agent-not-found")
        assert_problem(
            await client.patch(wrong, json={"disabled": True}, headers=headers),
            404,
            "agent-not-found",
        )
        assert_problem(await client.get(f"{wrong}/tokens", headers=headers), 404, "agent-not-found")
        assert_problem(
            await client.post(
                f"{wrong}/tokens", json={"name": "t", "scopes": ["notes:read"]}, headers=headers
            ),
            404,
            "agent-not-found",
        )
        for agent_id in (theirs["id"], mine["id"]):
            assert_problem(
                await client.delete(
                    f"{team.agents}/{agent_id}/tokens/{their_token['id']}", headers=headers
                ),
                404,
                "agent-token-not-found",
            )
        listed = await client.get(team.agents, headers=headers)
        assert [a["id"] for a in listed.json()["items"]] == [mine["id"]]

        # Their agent and token are untouched.
        fetched = await client.get(f"{other.agents}/{theirs['id']}", headers=headers)
        assert fetched.json()["disabled_at"] is None
        their_notes = f"/v1/workspaces/{other_workspace['id']}/notes"
        assert (
            await client.get(their_notes, headers=bearer(their_token["token"]))
        ).status_code == 200


class TestAudit:
    async def test_every_agent_change_is_recorded_without_the_secret(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        team = await make_team(factory)
        agent = await create_agent(client, team, team.editor, description="Drafts.")
        token = await issue_token(
            client, team, team.editor, agent["id"], ["search:read", "notes:read"]
        )
        url = f"{team.agents}/{agent['id']}"
        await client.patch(url, json={"name": "Renamed"}, headers=team.owner.headers)
        await client.patch(url, json={"disabled": True}, headers=team.owner.headers)
        await client.patch(url, json={"disabled": False}, headers=team.owner.headers)
        await client.delete(f"{url}/tokens/{token['id']}", headers=team.owner.headers)

        events = [
            e for e in await audit_events(client, team) if e["target_type"].startswith("agent")
        ]
        assert [(e["action"], e["target_type"], e["target_id"], e["actor_id"]) for e in events] == [
            ("agent.created", "agent", agent["id"], team.editor.user_id),
            ("agent_token.created", "agent_token", token["id"], team.editor.user_id),
            ("agent.updated", "agent", agent["id"], team.owner.user_id),
            ("agent.disabled", "agent", agent["id"], team.owner.user_id),
            ("agent.enabled", "agent", agent["id"], team.owner.user_id),
            ("agent_token.revoked", "agent_token", token["id"], team.owner.user_id),
        ]
        assert all(e["actor_kind"] == "user" for e in events)
        assert all(e["workspace_id"] == team.workspace["id"] for e in events)
        created, issued, renamed, disabled, enabled, revoked = events
        assert created["changes"]["name"] == {"before": None, "after": "Summarizer"}
        assert created["changes"]["disabled"] == {"before": None, "after": False}
        assert issued["changes"]["agent_id"]["after"] == agent["id"]
        assert "scopes" in issued["changes"]
        assert renamed["changes"] == {"name": {"before": "Summarizer", "after": "Renamed"}}
        assert disabled["changes"]["disabled"] == {"before": False, "after": True}
        assert enabled["changes"]["disabled"] == {"before": True, "after": False}
        assert revoked["changes"]["revoked_at"]["before"] is None

        # The secret appears nowhere in the log.
        log = await client.get(
            f"{team.ws}/audit", params={"limit": "100"}, headers=team.owner.headers
        )
        assert token["token"] not in log.text
        assert token["token"][16:] not in log.text

        verified = await client.get(f"{team.ws}/audit/verify", headers=team.owner.headers)
        assert verified.json()["ok"] is True

    async def test_rejected_requests_record_nothing(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        team = await make_team(factory)
        agent = await create_agent(client, team, team.owner)
        before = await audit_events(client, team)
        await client.post(team.agents, json={"name": ""}, headers=team.owner.headers)
        await client.post(team.agents, json={"name": "x"}, headers=team.viewer.headers)
        await client.post(
            f"{team.agents}/{agent['id']}/tokens",
            json={"name": "t", "scopes": ["nope"]},
            headers=team.owner.headers,
        )
        await client.delete(
            f"{team.agents}/{agent['id']}/tokens/{new_id()}", headers=team.owner.headers
        )
        assert await audit_events(client, team) == before

    async def test_agent_reads_record_nothing(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        team = await make_team(factory)
        await factory.note(team.workspace, team.owner)
        agent: AgentActor = await factory.agent(team.workspace, team.owner)
        before = await audit_events(client, team)
        for url in (team.ws, f"{team.ws}/notes", f"{team.ws}/tasks", f"{team.ws}/members"):
            response = await client.get(url, headers=agent.headers)
            assert response.status_code == 200, response.text
        assert await audit_events(client, team) == before
        assert await audit_events(client, team, actor_kind="agent") == []

    async def test_actor_kind_filter(self, client: httpx.AsyncClient, factory: Factory) -> None:
        team = await make_team(factory)
        agent = await factory.agent(team.workspace, team.editor)
        everything = await audit_events(client, team)
        by_users = await audit_events(client, team, actor_kind="user")
        assert by_users == everything
        assert {e["actor_kind"] for e in by_users} == {"user"}
        assert "agent.created" in {e["action"] for e in by_users}
        # A refused agent write records nothing in the agent's name.
        refused = await client.post(
            f"{team.ws}/notes", json={"title": "t", "body": "b"}, headers=agent.writing()
        )
        assert_problem(refused, 403, "agent-write-forbidden")
        assert await audit_events(client, team, actor_kind="agent") == []
        assert await audit_events(client, team, actor_kind="system") == []

        for kind in ("robot", "USER", "", "user,agent"):
            assert_problem(
                await client.get(
                    f"{team.ws}/audit", params={"actor_kind": kind}, headers=team.owner.headers
                ),
                422,
                "validation-failed",
            )

    async def test_only_owners_read_the_log(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        team = await make_team(factory)
        for actor in (team.editor, team.viewer):
            assert_problem(
                await client.get(f"{team.ws}/audit", headers=actor.headers),
                403,
                "insufficient-role",
            )
        agent = await factory.agent(team.workspace, team.owner)
        assert_problem(
            await client.get(f"{team.ws}/audit", headers=agent.headers), 403, "insufficient-scope"
        )
