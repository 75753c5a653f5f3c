"""Requests generated from the served OpenAPI document, for every operation (schemathesis):
whatever a client sends, schema-valid or not, the answer is never a 5xx, and it is one the
document declares for the operation, with the declared media type, headers and body schema.

Each operation gets its own workspace, holding one of everything a path can name, whose ids
the generated requests use, so that they reach the route's own validation and rules rather
than stopping at a 404 for a workspace that does not exist. Every request to a workspace is
first sent by a user who is not its member, who must learn nothing of it: the answer is the
one a workspace that does not exist gets, and a 404 or a problem with the request itself,
never its data, a 403 or a conflict. Examples are derandomized: a run tests the same
requests every time, so that a failure here is a regression, not a new draw.
"""

import json
import uuid
from collections.abc import Mapping
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
from ainotes.core.ids import new_id
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
    agent_tokens = await client.get(f"{base}/agents/{agent.agent_id}/tokens", headers=owner.headers)
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
        "agent_token_id": agent_tokens.json()[0]["id"],
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


async def _send(
    client: httpx.AsyncClient,
    case: Any,
    credentials: Mapping[str, str],
    workspace_instead: tuple[str, str] | None = None,
    key: str | None = None,
) -> httpx.Response:
    # Encoded by requests, as schemathesis itself sends a case (multipart files, form fields,
    # query values of any type), then sent through the application's own ASGI transport.
    prepared = requests.Request(**case.as_transport_kwargs(base_url=BASE_URL)).prepare()
    # Latin-1, as HTTP/1.1 carries header bytes (generated values may go past ASCII).
    headers = httpx.Headers(dict(prepared.headers), encoding="latin-1")
    headers.update(credentials)
    generated_key = headers.get(IDEMPOTENCY_HEADER)
    if generated_key is not None and _is_valid_key(generated_key):
        # A fresh one each time unless a replay is meant: the generator repeats its keys, and
        # a key seen before with another request is a 422 that would stop every later case.
        headers[IDEMPOTENCY_HEADER] = key or str(uuid.uuid4())
    body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
    assert prepared.method is not None
    assert prepared.url is not None
    url = prepared.url
    if workspace_instead is not None:
        real, other = workspace_instead
        url = url.replace(f"/v1/workspaces/{real}", f"/v1/workspaces/{other}", 1)
    return await client.request(prepared.method, url, headers=headers, content=body)


def _is_valid_key(value: str) -> bool:
    try:
        parse_key([value])
    except IdempotencyKeyInvalid:
        return False
    return True


def _fuzzed(
    operation: Any, mode: GenerationMode, known: dict[str, str], query: dict[str, str]
) -> list[Any]:
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
    @given(case=operation.as_strategy(mode, path_parameters=known, query=query or None))
    def collect(case: Any) -> None:
        drawn.append(case)

    collect()
    return drawn


def _boundaries(operation: Any, known: dict[str, str], query: dict[str, str]) -> list[Any]:
    """Cases of the coverage phase: each parameter and body field at and past the limits its
    schema gives (lengths, ranges, patterns, types, missing and extra values), hundreds an
    operation; an even spread of BOUNDARY_CASES of them, always the same."""
    generator = CoverageGenerator(
        operation=operation,
        generation_modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        generation_config=SCHEMA.config.generation_for(operation=operation, phase="coverage"),
        auth_storage=None,
        override=Override(path_parameters=known, query=query),
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
    ids = dict(path_ids)
    if path.endswith("/agents/{agent_id}/tokens/{token_id}"):
        ids["token_id"] = ids["agent_token_id"]
    known = {name: value for name, value in ids.items() if "{" + name + "}" in path}
    # The graph's starting note is a query parameter; generated, it would never exist.
    query = {"root": ids["note_id"]} if path.endswith("/graph") else {}
    cases = [
        *_boundaries(operation, known, query),
        *_fuzzed(operation, GenerationMode.POSITIVE, known, query),
        *_fuzzed(operation, GenerationMode.NEGATIVE, known, query),
    ]
    in_workspace = path.startswith("/v1/workspaces/{workspace_id}")
    # Without credentials: a 401 with its challenge, as documented, or a problem with the
    # request found before authentication.
    anonymous = await _send(client, cases[0], {})
    _validate(cases[0], anonymous)
    assert not anonymous.is_success
    for case in cases:
        if in_workspace:
            # First, so that nothing the owner's request deletes is gone when it is tried.
            await _assert_tells_an_outsider_nothing(client, case, outsider, ids["workspace_id"])
        key = str(uuid.uuid4())
        response = await _send(client, case, owner.headers, key=key)
        _validate(case, response)
        if response.is_success and IDEMPOTENCY_HEADER in response.request.headers:
            # The stored answer, replayed, is one the document declares too.
            replay = await _send(client, case, owner.headers, key=key)
            _validate(case, replay)
            assert replay.headers["Idempotent-Replayed"] == "true"


async def _assert_tells_an_outsider_nothing(
    client: httpx.AsyncClient, case: Any, outsider: Actor, workspace_id: str
) -> None:
    """The non-member's answer is the one a workspace that does not exist gets, body and all
    (but for the ids the request named), and one of TOLD_TO_OUTSIDERS."""
    response = await _send(client, case, outsider.headers)
    _validate(case, response)
    assert response.status_code in TOLD_TO_OUTSIDERS, (
        f"{response.status_code} to a non-member: {response.text[:500]}"
    )
    absent = new_id()
    elsewhere = await _send(client, case, outsider.headers, (workspace_id, absent))
    assert (response.status_code, _comparable(response, workspace_id, absent)) == (
        elsewhere.status_code,
        _comparable(elsewhere, workspace_id, absent),
    )


def _comparable(response: httpx.Response, workspace_id: str, absent: str) -> Any:
    """The problem's members but those naming this request, the workspace named alike."""
    text = response.text.replace(workspace_id, absent)
    try:
        body = json.loads(text)
    except ValueError:
        return text
    if isinstance(body, dict):
        body.pop("request_id", None)
        body.pop("instance", None)
    return body


def _validate(case: Any, response: httpx.Response) -> None:
    try:
        case.validate_response(response, checks=CHECKS)
    except FailureGroup as failures:
        # Its message names each failure and the request; the group's own traceback would
        # repeat that once for every failure.
        raise AssertionError(str(failures)) from None
