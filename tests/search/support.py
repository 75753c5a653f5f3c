"""A workspace with an owner, and helpers to write notes and search them over HTTP."""

from dataclasses import dataclass
from typing import Any

import httpx

from tests.factories import Actor, Factory


@dataclass
class SearchSpace:
    factory: Factory
    owner: Actor
    workspace: dict[str, Any]

    @property
    def client(self) -> httpx.AsyncClient:
        return self.factory.client

    @property
    def url(self) -> str:
        return f"/v1/workspaces/{self.workspace['id']}/search"

    @property
    def notes(self) -> str:
        return f"/v1/workspaces/{self.workspace['id']}/notes"

    async def note(self, title: str, body: str = "", **fields: Any) -> dict[str, Any]:
        return await self.factory.note(self.workspace, self.owner, title=title, body=body, **fields)

    async def get(self, q: str, **params: Any) -> httpx.Response:
        return await self.client.get(
            self.url, params={"q": q, **params}, headers=self.owner.headers
        )

    async def hits(self, q: str, **params: Any) -> list[dict[str, Any]]:
        response = await self.get(q, **params)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    async def ids(self, q: str, **params: Any) -> list[str]:
        return [hit["id"] for hit in await self.hits(q, **params)]
