"""Both engines rank at most ``RANKED_CANDIDATES`` matches of a query (see
``search/repository.py``): a broad query is ranked over a bounded set, the same set on every
page, and a query with fewer matches is ranked exactly."""

import re
from typing import Any

import pytest

from ainotes.core.config import Settings
from ainotes.search import repository as search_repository
from tests.search.support import SearchSpace

pytestmark = pytest.mark.anyio

CAP = search_repository.RANKED_CANDIDATES


@pytest.fixture
def cap_of_three(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("_SQLITE_SEARCH", "_POSTGRES_CANDIDATES", "_POSTGRES_PHRASE_CANDIDATES"):
        sql, replaced = re.subn(rf"LIMIT {CAP}\b", "LIMIT 3", getattr(search_repository, name))
        assert replaced == 1
        monkeypatch.setattr(search_repository, name, sql)


async def _paged_ids(space: SearchSpace, q: str) -> list[str]:
    paged: list[str] = []
    params: dict[str, Any] = {"limit": 1}
    while True:
        page = (await space.get(q, **params)).json()
        paged += [hit["id"] for hit in page["items"]]
        if page["next_cursor"] is None:
            return paged
        params["cursor"] = page["next_cursor"]


async def test_a_broad_query_ranks_a_bounded_set_the_same_way_on_every_page(
    space: SearchSpace, cap_of_three: None, settings: Settings
) -> None:
    notes = [await space.note(f"Wapiti {i}", "wapiti " * (i + 1)) for i in range(5)]

    first = await space.hits("wapiti ")
    assert len(first) == 3
    assert [hit["score"] for hit in first] == sorted((hit["score"] for hit in first), reverse=True)
    assert await space.hits("wapiti ") == first
    assert await _paged_ids(space, "wapiti ") == [hit["id"] for hit in first]
    if settings.is_sqlite:
        # SQLite takes the newest matches.
        assert {hit["id"] for hit in first} == {note["id"] for note in notes[2:]}


async def test_filters_apply_before_the_bound(space: SearchSpace, cap_of_three: None) -> None:
    tagged = [await space.note(f"Wapiti {i}", "wapiti", tags=["deer"]) for i in range(2)]
    for i in range(4):
        await space.note(f"Other wapiti {i}", "wapiti")

    hits = await space.hits("wapiti ", tag="deer")
    assert {hit["id"] for hit in hits} == {note["id"] for note in tagged}


async def test_fewer_matches_than_the_bound_are_ranked_exactly(space: SearchSpace) -> None:
    notes = [await space.note(f"Note {i}", "elk " * (i + 1) + "filler " * 20) for i in range(5)]

    hits = await space.hits("elk ")
    assert len(hits) == 5
    # More mentions in a document of the same length rank higher, on both engines.
    assert [hit["id"] for hit in hits] == [note["id"] for note in reversed(notes)]


async def test_a_broad_phrase_is_bounded_too(space: SearchSpace, cap_of_three: None) -> None:
    for i in range(5):
        await space.note(f"Herd {i}", "red deer " * (i + 1))

    hits = await space.hits('"red deer"')
    assert len(hits) == 3
    assert await _paged_ids(space, '"red deer"') == [hit["id"] for hit in hits]
