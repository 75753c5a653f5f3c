"""The benchmark's route floors (bench/ping_app.py) stay what BENCHMARKS.md says they are:
ainotes' GET of a note and listing as FastAPI handles them, every parameter parsed and
validated as the real route does, with no database behind them. No database is touched here.
"""

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security.base import SecurityBase

from ainotes.app import create_app
from ainotes.core.ids import new_id
from bench import ping_app
from tests.conftest import settings_for
from tests.test_openapi import api_operations

pytestmark = pytest.mark.anyio

NOTES = "/v1/workspaces/{workspace_id}/notes"


def _route(app: FastAPI, path: str) -> APIRoute:
    return next(op.route for op in api_operations(app) if (op.method, op.path) == ("GET", path))


def _dependants(route: APIRoute) -> list[Dependant]:
    found, pending = [], [route.dependant]
    while pending:
        found.append(dependant := pending.pop())
        pending += dependant.dependencies
    return found


def _security_schemes(route: APIRoute) -> list[SecurityBase]:
    return [d.call for d in _dependants(route) if isinstance(d.call, SecurityBase)]


def _parameters(route: APIRoute) -> list[tuple[str, str, str, str]]:
    """Every parameter FastAPI reads for the route, its dependencies' included, as declared."""
    fields = []
    for dependant in _dependants(route):
        fields += dependant.path_params + dependant.query_params
        fields += dependant.header_params + dependant.cookie_params
    return sorted(
        (
            field.alias,
            type(field.field_info).__name__,
            repr(field.field_info.annotation),
            repr(field.field_info.metadata),
        )
        for field in fields
    )


@pytest.fixture
async def floor() -> Any:
    transport = httpx.ASGITransport(app=ping_app.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://floor.test") as client:
        yield client


@pytest.mark.parametrize("path", [NOTES, NOTES + "/{note_id}"])
def test_a_floor_reads_the_parameters_of_its_route_and_answers_its_model(path: str) -> None:
    # The floors are built with the environment's page sizes, as the served app is.
    settings = settings_for("sqlite:///unused.db", ".").model_copy(
        update={
            "max_page_size": ping_app.SETTINGS.max_page_size,
            "default_page_size": ping_app.SETTINGS.default_page_size,
        }
    )
    ainotes = _route(create_app(settings), path)
    floor = _route(ping_app.app, path)
    assert _parameters(floor) == _parameters(ainotes)
    # The same dependencies for FastAPI to solve, in the same tree.
    assert len(_dependants(floor)) == len(_dependants(ainotes))
    assert _security_schemes(floor) == _security_schemes(ainotes) != []
    assert floor.response_model is ainotes.response_model


async def test_the_floors_answer_as_their_routes_do(floor: httpx.AsyncClient) -> None:
    notes = NOTES.format(workspace_id=new_id())
    headers = {"Authorization": "Bearer ain_pat_anything"}
    note_id = new_id()
    got = await floor.get(f"{notes}/{note_id}", headers=headers)
    assert got.status_code == 200
    assert got.headers["etag"] == '"3"'
    assert got.json()["id"] == note_id
    listed = await floor.get(notes, params={"limit": 7, "sort": "created_at"}, headers=headers)
    assert listed.status_code == 200
    assert len(listed.json()["items"]) == 7
    # Validated as the real routes validate: a malformed id, a page size past the cap.
    assert (await floor.get(f"{notes}/not-an-id", headers=headers)).status_code == 422
    assert (await floor.get(notes, params={"limit": 10_000}, headers=headers)).status_code == 422
