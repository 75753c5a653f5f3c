"""The modules' routes are served as the application's own (ainotes.app._serve_routes), not
through include_router: what only an inclusion would apply is refused at startup, and so are
dependency overrides, which would not reach these routes. No database is touched here."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute

from ainotes.app import _serve_routes, create_app
from tests.conftest import settings_for
from tests.test_openapi import api_operations


def _noop() -> None:
    return None


@asynccontextmanager
async def _lifespan(_: Any) -> AsyncIterator[None]:
    yield


def _router(**settings: Any) -> APIRouter:
    router = APIRouter(prefix="/things", **settings)
    router.add_api_route("", _noop, methods=["GET"])
    return router


@pytest.mark.parametrize(
    "router",
    [
        _router(form_limits={"max_fields": 1}),
        _router(on_startup=[_noop]),
        _router(lifespan=_lifespan),
    ],
    ids=["form limits", "startup handler", "lifespan"],
)
def test_a_router_that_needs_include_router_is_refused(router: APIRouter) -> None:
    with pytest.raises(RuntimeError, match="include_router is needed for /things's"):
        _serve_routes(FastAPI(), router)


@pytest.mark.parametrize(
    "app",
    [FastAPI(dependencies=[Depends(_noop)]), FastAPI(responses={418: {"description": "tea"}})],
    ids=["dependencies", "responses"],
)
def test_application_settings_an_inclusion_would_hand_down_are_refused(app: FastAPI) -> None:
    with pytest.raises(RuntimeError, match="include_router is needed for the application's"):
        _serve_routes(app, _router())


def test_what_a_router_builds_into_its_routes_is_served() -> None:
    """A router's own dependencies and prefix are part of each route it builds."""
    app = FastAPI()
    _serve_routes(app, _router(dependencies=[Depends(_noop)]))
    [route] = [r for r in app.routes if isinstance(r, APIRoute) and r.path == "/things"]
    assert [d.call for d in route.dependant.dependencies] == [_noop]


def test_dependency_overrides_are_refused() -> None:
    app = create_app(settings_for("sqlite:///unused.db", "."))
    overrides: list[Callable[[], None]] = [
        lambda: app.dependency_overrides.__setitem__(_noop, _noop),
        lambda: app.dependency_overrides.update({_noop: _noop}),
        lambda: app.dependency_overrides.setdefault(_noop, _noop),
    ]
    for override in overrides:
        with pytest.raises(TypeError, match="dependency overrides do not reach"):
            override()
    assert not app.dependency_overrides


def test_every_module_route_is_the_applications_own() -> None:
    app = create_app(settings_for("sqlite:///unused.db", "."))
    own = {
        (method, route.path)
        for route in app.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }
    served = {(op.method, op.path) for op in api_operations(app)}
    assert served == own
    assert sum(path.startswith("/v1/") for _, path in own) >= 50
