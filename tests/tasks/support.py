"""Helpers for the tasks tests: a workspace with an owner, URLs, and problem assertions."""

from dataclasses import dataclass
from typing import Any

import httpx

from tests.factories import Actor, Factory

PROBLEM_TYPE_BASE = "https://ainotes.dev/problems/"
# A well-formed id that names nothing.
UNKNOWN_ID = "01JDZZZZZZZZZZZZZZZZZZZZZZ"


@dataclass
class Space:
    factory: Factory
    owner: Actor
    workspace: dict[str, Any]

    @property
    def client(self) -> httpx.AsyncClient:
        return self.factory.client

    @property
    def base(self) -> str:
        return f"/v1/workspaces/{self.workspace['id']}"

    @property
    def tasks(self) -> str:
        return f"{self.base}/tasks"

    def task(self, task_id: str) -> str:
        return f"{self.base}/tasks/{task_id}"

    def note(self, note_id: str, *rest: str) -> str:
        return "/".join([f"{self.base}/notes", note_id, *rest])

    async def make_note(self, body: str, **fields: Any) -> dict[str, Any]:
        return await self.factory.note(self.workspace, self.owner, body=body, **fields)

    async def edit_note(self, note: dict[str, Any], body: str) -> dict[str, Any]:
        response = await self.client.patch(
            self.note(note["id"]), json={"body": body}, headers=self.owner.headers
        )
        assert response.status_code == 200, response.text
        edited: dict[str, Any] = response.json()
        return edited

    async def note_tasks(self, note: dict[str, Any]) -> list[dict[str, Any]]:
        response = await self.client.get(
            self.note(note["id"], "tasks"), params={"limit": 200}, headers=self.owner.headers
        )
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    async def list_tasks(self, **params: Any) -> list[dict[str, Any]]:
        response = await self.client.get(self.tasks, params=params, headers=self.owner.headers)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items


async def make_space(factory: Factory) -> Space:
    owner = await factory.user("owner")
    workspace = await factory.workspace(owner)
    return Space(factory, owner, workspace)


def ids_by_text(tasks: list[dict[str, Any]]) -> dict[str, str]:
    return {task["text"]: task["id"] for task in tasks}
