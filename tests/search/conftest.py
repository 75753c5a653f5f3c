import pytest

from tests.factories import Factory
from tests.search.support import SearchSpace


@pytest.fixture
async def space(factory: Factory) -> SearchSpace:
    owner = await factory.user("owner")
    workspace = await factory.workspace(owner)
    return SearchSpace(factory, owner, workspace)
