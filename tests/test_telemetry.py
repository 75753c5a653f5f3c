"""AINOTES_OPENTELEMETRY: FastAPI's native OpenTelemetry looks up the global providers on every
request only when it is on."""

from typing import Any

import pytest
from opentelemetry import trace

from ainotes.app import create_app
from ainotes.core.config import Settings
from tests.conftest import served

pytestmark = pytest.mark.anyio


@pytest.fixture
def provider_lookups(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    lookups: list[int] = []
    real = trace.get_tracer_provider

    def counted() -> Any:
        lookups.append(1)
        return real()

    monkeypatch.setattr(trace, "get_tracer_provider", counted)
    return lookups


@pytest.mark.parametrize("enabled", [False, True])
async def test_requests_consult_the_providers_only_when_asked(
    settings: Settings, provider_lookups: list[int], enabled: bool
):
    app = create_app(settings.model_copy(update={"opentelemetry": enabled}))
    async with served(app) as http:
        provider_lookups.clear()
        for _ in range(3):
            response = await http.get("/health")
            assert response.status_code == 200, response.text
    assert (len(provider_lookups) >= 3) is enabled
    assert (len(provider_lookups) == 0) is not enabled


def test_off_by_default(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("AINOTES_OPENTELEMETRY", raising=False)
    assert Settings(_env_file=None).opentelemetry is False  # type: ignore[call-arg]
