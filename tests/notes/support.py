"""Helpers shared by the notes tests: URLs, a workspace with an owner, and problem assertions."""

from dataclasses import dataclass
from typing import Any

import httpx

from tests.factories import Actor, Factory
from tests.problems import assert_problem

PROBLEM_TYPE_BASE = "https://ainotes.dev/problems/"


@dataclass
class Space:
    """A workspace, its owner, and the URL of its notes collection."""

    factory: Factory
    owner: Actor
    workspace: dict[str, Any]

    @property
    def client(self) -> httpx.AsyncClient:
        return self.factory.client

    @property
    def notes(self) -> str:
        return notes_url(self.workspace)

    def note(self, note_id: str, *rest: str) -> str:
        return "/".join([self.notes, note_id, *rest])

    async def make_note(self, **fields: Any) -> dict[str, Any]:
        return await self.factory.note(self.workspace, self.owner, **fields)


async def make_space(factory: Factory) -> Space:
    owner = await factory.user("owner")
    workspace = await factory.workspace(owner)
    return Space(factory, owner, workspace)


def notes_url(workspace: dict[str, Any]) -> str:
    return f"/v1/workspaces/{workspace['id']}/notes"


def if_match(version: int | str, headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "If-Match": f'"{version}"' if isinstance(version, int) else version}


def assert_validation_error(response: httpx.Response, *field: str) -> dict[str, Any]:
    """A 422 problem whose errors name ``field`` (the location after ``body``/``query``)."""
    problem = assert_problem(response, 422, "validation-failed")
    locations = [error["loc"] for error in problem["errors"]]
    assert any(loc[1 : 1 + len(field)] == list(field) for loc in locations), locations
    return problem
