import pytest

from tests.factories import Factory
from tests.notes.support import Space, make_space


@pytest.fixture
async def space(factory: Factory) -> Space:
    return await make_space(factory)
