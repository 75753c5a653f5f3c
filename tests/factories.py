"""Test data through the services (users, tokens) and the HTTP API (everything else)."""

import itertools
from dataclasses import dataclass, field
from typing import Any

import httpx

from ainotes.auth import service as auth_service
from ainotes.core.db import Database

_counter = itertools.count()


@dataclass
class Actor:
    user_id: str
    username: str
    token: str
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.headers = {"Authorization": f"Bearer {self.token}"}


@dataclass
class AgentActor:
    agent_id: str
    workspace_id: str
    token: str
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.headers = {"Authorization": f"Bearer {self.token}"}

    def writing(self, key: str | None = None) -> dict[str, str]:
        """Headers for a write: agent writes must carry an Idempotency-Key."""
        return {**self.headers, "Idempotency-Key": key or f"key-{next(_counter)}-{id(self)}"}


ALL_SCOPES = (
    "workspaces:read",
    "notes:read",
    "relationships:read",
    "tasks:read",
    "artifacts:read",
    "attachments:read",
    "search:read",
    "proposals:read",
    "proposals:write",
)


class Factory:
    def __init__(self, database: Database, client: httpx.AsyncClient) -> None:
        self.database = database
        self.client = client

    async def user(self, name: str = "user") -> Actor:
        username = f"{name}-{next(_counter)}-{id(self) % 100000}"
        async with self.database.write_session() as session:
            user = await auth_service.create_user(session, username)
            _, secret = await auth_service.issue_token(session, user, "tests")
        return Actor(user.id, user.username, secret)

    async def workspace(self, owner: Actor, name: str = "Workspace") -> dict[str, Any]:
        response = await self.client.post(
            "/v1/workspaces", json={"name": name}, headers=owner.headers
        )
        assert response.status_code == 201, response.text
        workspace: dict[str, Any] = response.json()
        return workspace

    async def member(
        self, workspace: dict[str, Any], owner: Actor, role: str, name: str = "member"
    ) -> Actor:
        actor = await self.user(name)
        response = await self.client.post(
            f"/v1/workspaces/{workspace['id']}/members",
            json={"user_id": actor.user_id, "role": role},
            headers=owner.headers,
        )
        assert response.status_code == 201, response.text
        return actor

    async def note(self, workspace: dict[str, Any], author: Actor, **fields: Any) -> dict[str, Any]:
        body = {"title": f"Note {next(_counter)}", "body": "Some *markdown*.", **fields}
        response = await self.client.post(
            f"/v1/workspaces/{workspace['id']}/notes", json=body, headers=author.headers
        )
        assert response.status_code == 201, response.text
        note: dict[str, Any] = response.json()
        return note

    async def agent(
        self,
        workspace: dict[str, Any],
        manager: Actor,
        scopes: tuple[str, ...] = ALL_SCOPES,
        name: str = "agent",
    ) -> AgentActor:
        """An agent of ``workspace`` created by ``manager`` (an owner or editor), with a token."""
        base = f"/v1/workspaces/{workspace['id']}/agents"
        response = await self.client.post(base, json={"name": name}, headers=manager.headers)
        assert response.status_code == 201, response.text
        agent_id = response.json()["id"]
        response = await self.client.post(
            f"{base}/{agent_id}/tokens",
            json={"name": "tests", "scopes": list(scopes)},
            headers=manager.headers,
        )
        assert response.status_code == 201, response.text
        return AgentActor(agent_id, workspace["id"], response.json()["token"])
