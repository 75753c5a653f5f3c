"""Requests generated from the served OpenAPI document, for every operation (schemathesis):
whatever a client sends, schema-valid or not, the answer is never a 5xx, and it is one the
document declares for the operation, with the declared media type, headers and body schema.

Each operation gets its own workspace, holding one of everything a path can name, whose ids
the generated requests use, so that they reach the route's own validation and rules rather
than stopping at a 404 for a workspace that does not exist. Every request to a workspace is
sent again by a user who is not its member, who must learn nothing of it: a 404 as for a
workspace that does not exist, or a complaint about the request itself, never its data, a
403 or a conflict. Examples are derandomized: a run tests the same requests every time, so
that a failure here is a regression, not a new draw.
"""

import uuid
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
from ainotes.core.idempotency import HEADER as IDEMPOTENCY_HEADER
from ainotes.core.idempotency import IdempotencyKeyInvalid, parse_key
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
# What a request to a workspace may get from a user who is not its member: the 404 of a
# workspace that does not exist, or a problem with the request itself (a malformed header,
# parameter or body, a method the path lacks, a body too large or of the wrong type).
TOLD_TO_OUTSIDERS = {400, 404, 405, 413, 415, 422}


@pytest.fixture
async def owner(factory: Factory) -> Actor:
    return await factory.user("fuzzed")


@pytest.fixture
async def outsider(factory: Factory) -> Actor:
    return await factory.user("outsider")


@pytest.fixture
async def path_ids(factory: Factory, client: httpx.AsyncClient, owner: Actor) -> dict[str, str]:
    """One of everything a path can name, in the operation's own workspace."""
    workspace = await factory.workspace(owner)
    base = f"/v1/workspaces/{workspace['id']}"
    note = await factory.note(workspace, owner, body="See [[Elsewhere]].\n\n- [ ] a task #tag")
    other = await factory.note(workspace, owner)
    member = await factory.member(workspace, owner, "editor")
    agent = await factory.agent(workspace, owner)

    async def created(path: str, **request: Any) -> str:
        response = await client.post(path, headers=owner.headers, **request)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    tasks = await client.get(f"{base}/tasks", headers=owner.headers)
    proposal = await client.post(
        f"{base}/proposals",
        json={
            "rationale": "Rename it.",
            "operations": [
                {
                    "op": "update_note",
                    "note_id": other["id"],
                    "base_version": other["version"],
                    "title": "Renamed",
                }
            ],
        },
        headers=agent.writing(),
    )
    assert proposal.status_code == 201, proposal.text
    return {
        "workspace_id": workspace["id"],
        "note_id": note["id"],
        "task_id": tasks.json()["items"][0]["id"],
        # A member who is not the only owner, so that changing or removing them is allowed.
        "user_id": member.user_id,
        "agent_id": agent.agent_id,
        "proposal_id": proposal.json()["id"],
        "token_id": await created("/v1/tokens", json={"name": "generated requests"}),
        "relationship_id": await created(
            f"{base}/relationships",
            json={"source_note_id": note["id"], "target_note_id": other["id"], "type": "related"},
        ),
        "artifact_id": await created(
            f"{base}/artifacts",
            json={
                "kind": "summary",
                "title": "Summary",
                "content": {"text": "Short."},
                "sources": [{"note_id": note["id"]}],
                "provenance": {"generator": "tests", "model": "none"},
            },
        ),
        "attachment_id": await created(
            f"{base}/attachments", files={"file": ("a.txt", b"hello", "text/plain")}
        ),
    }


async def _send(client: httpx.AsyncClient, case: Any, owner: Actor) -> httpx.Response:
    # Encoded by requests, as schemathesis itself sends a case (multipart files, form fields,
    # query values of any type), then sent through the application's own ASGI transport.
    prepared = requests.Request(**case.as_transport_kwargs(base_url=BASE_URL)).prepare()
    # Latin-1, as HTTP/1.1 carries header bytes (generated values may go past ASCII).
    headers = httpx.Headers(dict(prepared.headers), encoding="latin-1")
    headers.update(owner.headers)
    key = headers.get(IDEMPOTENCY_HEADER)
    if key is not None and _is_valid_key(key):
        # A fresh one each time: the generator repeats its keys, and a key seen before with
        # another request is a 422 that would stop every later case at the header.
        headers[IDEMPOTENCY_HEADER] = str(uuid.uuid4())
    body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
    assert prepared.method is not None
    assert prepared.url is not None
    return await client.request(prepared.method, prepared.url, headers=headers, content=body)


def _is_valid_key(value: str) -> bool:
    try:
        parse_key([value])
    except IdempotencyKeyInvalid:
        return False
    return True


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
    if len(cases) <= BOUNDARY_CASES:
        return cases
    return [cases[i * len(cases) // BOUNDARY_CASES] for i in range(BOUNDARY_CASES)]


@pytest.mark.parametrize("label", OPERATIONS)
async def test_every_answer_is_documented_and_none_is_a_server_error(
    client: httpx.AsyncClient,
    owner: Actor,
    outsider: Actor,
    path_ids: dict[str, str],
    label: str,
) -> None:
    method, path = label.split(" ", 1)
    operation = SCHEMA[path][method]
    known = {name: value for name, value in path_ids.items() if "{" + name + "}" in path}
    cases = [
        *_boundaries(operation, known),
        *_fuzzed(operation, GenerationMode.POSITIVE, known),
        *_fuzzed(operation, GenerationMode.NEGATIVE, known),
    ]
    in_workspace = path.startswith("/v1/workspaces/{workspace_id}")
    for case in cases:
        _validate(case, await _send(client, case, owner))
        if in_workspace:
            response = await _send(client, case, outsider)
            _validate(case, response)
            assert response.status_code in TOLD_TO_OUTSIDERS, (
                f"{response.status_code} to a non-member: {response.text[:500]}"
            )


def _validate(case: Any, response: httpx.Response) -> None:
    try:
        case.validate_response(response, checks=CHECKS)
    except FailureGroup as failures:
        # Its message names each failure and the request; the group's own traceback would
        # repeat that once for every failure.
        raise AssertionError(str(failures)) from None
