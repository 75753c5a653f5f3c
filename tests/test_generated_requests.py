"""Requests generated from the served OpenAPI document, for every operation (schemathesis):
whatever a client sends, schema-valid or not, the answer is never a 5xx, and it is one the
document declares for the operation, with the declared media type, headers and body schema.

Each operation gets its own workspace, holding a note with a task, whose ids the generated
requests use, so that they reach the route's own validation and rules rather than stopping
at a 404 for a workspace that does not exist. Examples are derandomized: a run tests the
same requests every time, so that a failure here is a regression, not a new draw.
"""

from typing import Any

import httpx
import pytest
import requests
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode, openapi
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.drivers import CoverageGenerator
from schemathesis.generation.feedback import FeedbackSources
from schemathesis.generation.overrides import Override

from ainotes.app import create_app
from tests.conftest import settings_for
from tests.factories import Actor, Factory

pytestmark = pytest.mark.anyio

# Building the application touches no database: the document is the same for every backend.
SCHEMA = openapi.from_dict(create_app(settings_for("sqlite:///unused.db", ".")).openapi())
OPERATIONS = sorted(
    operation.label
    for operation in (result.ok() for result in SCHEMA.get_all_operations())
    if operation.path.startswith("/v1/")
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
FUZZED_PER_MODE = 12
BOUNDARY_CASES = 40
BASE_URL = "http://ainotes.test"


@pytest.fixture
async def owner(factory: Factory) -> Actor:
    return await factory.user("fuzzed")


@pytest.fixture
async def path_ids(factory: Factory, client: httpx.AsyncClient, owner: Actor) -> dict[str, str]:
    workspace = await factory.workspace(owner)
    note = await factory.note(workspace, owner, body="See [[Elsewhere]].\n\n- [ ] a task #tag")
    tasks = await client.get(f"/v1/workspaces/{workspace['id']}/tasks", headers=owner.headers)
    return {
        "workspace_id": workspace["id"],
        "note_id": note["id"],
        "task_id": tasks.json()["items"][0]["id"],
        "user_id": owner.user_id,
    }


async def _send(client: httpx.AsyncClient, case: Any, owner: Actor) -> httpx.Response:
    # Encoded by requests, as schemathesis itself sends a case (multipart files, form fields,
    # query values of any type), then sent through the application's own ASGI transport.
    prepared = requests.Request(**case.as_transport_kwargs(base_url=BASE_URL)).prepare()
    headers = {**dict(prepared.headers), **owner.headers}
    body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
    assert prepared.method is not None
    assert prepared.url is not None
    return await client.request(prepared.method, prepared.url, headers=headers, content=body)


def _fuzzed(operation: Any, mode: GenerationMode, known: dict[str, str]) -> list[Any]:
    """Cases of the fuzzing phase, drawn up front: Hypothesis runs synchronously, and its
    control flow (a draw it rejects ends that example with an exception of its own) does not
    cross the event loop's task boundary intact."""
    drawn: list[Any] = []

    @settings(
        max_examples=FUZZED_PER_MODE,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(mode, path_parameters=known))
    def collect(case: Any) -> None:
        drawn.append(case)

    collect()
    return drawn


def _boundaries(operation: Any, known: dict[str, str]) -> list[Any]:
    """Cases of the coverage phase: each parameter and body field at and past the limits its
    schema gives (lengths, ranges, patterns, types, missing and extra values), hundreds an
    operation; an even spread of BOUNDARY_CASES of them, always the same."""
    generator = CoverageGenerator(
        operation=operation,
        generation_modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        generation_config=SCHEMA.config.generation_for(operation=operation, phase="coverage"),
        auth_storage=None,
        override=Override(path_parameters=known),
        feedback=FeedbackSources(),
    )
    cases = list(generator)
    step = max(1, len(cases) // BOUNDARY_CASES)
    return cases[::step][:BOUNDARY_CASES]


@pytest.mark.parametrize("label", OPERATIONS)
async def test_every_answer_is_documented_and_none_is_a_server_error(
    client: httpx.AsyncClient, owner: Actor, path_ids: dict[str, str], label: str
) -> None:
    method, path = label.split(" ", 1)
    operation = SCHEMA[path][method]
    known = {name: value for name, value in path_ids.items() if "{" + name + "}" in path}
    cases = [
        *_boundaries(operation, known),
        *_fuzzed(operation, GenerationMode.POSITIVE, known),
        *_fuzzed(operation, GenerationMode.NEGATIVE, known),
    ]
    for case in cases:
        response = await _send(client, case, owner)
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as failures:
            # An exception group escaping an async test would end anyio's runner for the
            # tests after it too; the message names each failure and the request.
            pytest.fail(str(failures), pytrace=False)
