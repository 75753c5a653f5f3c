"""The one check every error response of the API must pass."""

from typing import Any

import httpx

from ainotes.core.errors import PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE


def assert_problem(
    response: httpx.Response, status: int, slug: str | None = None
) -> dict[str, Any]:
    """The response is an RFC 9457 problem (of this kind, when ``slug`` is given), carrying the
    request's id and path."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
    problem: dict[str, Any] = response.json()
    if slug is not None:
        assert problem["type"] == PROBLEM_TYPE_BASE + slug
    assert problem["type"].startswith(PROBLEM_TYPE_BASE)
    assert problem["status"] == status
    assert isinstance(problem["title"], str)
    assert problem["title"]
    assert isinstance(problem["detail"], str)
    assert problem["detail"]
    assert problem["request_id"] == response.headers["x-request-id"]
    assert problem["instance"] == response.request.url.path
    return problem
