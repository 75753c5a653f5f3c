import pytest

from ainotes.core.db import Database
from tests.factories import Factory
from tests.notes.support import Space, make_space
from tests.relationships.support import Desk, make_desk


@pytest.fixture
async def space(factory: Factory) -> Space:
    return await make_space(factory)


@pytest.fixture
async def desk(factory: Factory, database: Database) -> Desk:
    return await make_desk(factory, database)
