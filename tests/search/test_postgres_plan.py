"""PostgreSQL's search statement: the bounded candidate set it ranks, and the planner settings
it needs (see ``PostgresSearchIndex`` in ``search/repository.py``)."""

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ainotes.core.db import Database, ReadOnlySession
from ainotes.search import repository as search_repository
from ainotes.search.query import parse
from ainotes.search.schemas import SearchFilters
from tests.search.support import SearchSpace

pytestmark = pytest.mark.anyio

SETTINGS = ("plan_cache_mode", "synchronize_seqscans", "max_parallel_workers_per_gather")


@pytest.mark.parametrize(
    ("q", "single"),
    [
        ("stack ", True),
        ("sta", True),
        ("stack", True),
        ("stack overflow ", False),
        ('"stack overflow"', False),
        ("state-of-th", False),
        ("stack OR heap ", False),
        ("stack -overflow ", False),
    ],
)
def test_only_a_single_word_or_prefix_may_use_a_sequential_scan(q: str, single: bool) -> None:
    # Its match estimate comes from the column's statistics; that of a phrase or of several
    # words can be far too high, and a scan that expects to stop early would read everything.
    assert search_repository._single_term(parse(q)) is single


# What these test is PostgreSQL's statement; SQLite's search has no such settings.
on_postgres = pytest.mark.parametrize("settings", ["postgres"], indirect=True)


@on_postgres
async def test_planner_settings_end_with_the_transaction(
    space: SearchSpace, database: Database
) -> None:
    await space.note("Wapiti", "")

    async def settings(session: AsyncSession) -> list[Any]:
        return [(await session.execute(text(f"SHOW {name}"))).scalar_one() for name in SETTINGS]

    async with database.read_engine.connect() as connection:
        async with AsyncSession(bind=connection) as session:
            before = await settings(session)
            index = search_repository.search_index(ReadOnlySession(session), space.workspace["id"])
            hits = await index.search(parse("wapiti "), SearchFilters(), 20, 0)
            assert len(hits) == 1
            assert await settings(session) == ["force_custom_plan", "off", "0"]
        async with AsyncSession(bind=connection) as session:
            assert await settings(session) == before
