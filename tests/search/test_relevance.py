"""A shared relevance set: the same queries must put the same notes first on both engines."""

import pytest

from tests.search.support import SearchSpace

pytestmark = pytest.mark.anyio

FILLER = "This note also mentions weather, coffee, trains and other everyday things."

CORPUS = {
    "title_photo": ("Photosynthesis", f"How plants live. {FILLER}"),
    "body_photo": (
        "Plant biology",
        f"Leaves use photosynthesis. Without photosynthesis there is no sugar. {FILLER}",
    ),
    "adjacent": ("Course log", f"Today we studied machine learning with care. {FILLER}"),
    "scattered": ("Workshop log", f"The machine broke, so learning stopped early. {FILLER}"),
    "many_mitochondria": (
        "Cell parts",
        f"Mitochondria make energy; mitochondria divide; mitochondria have DNA. {FILLER}",
    ),
    "one_mitochondria": ("Cell overview", f"Nucleus, ribosomes and mitochondria. {FILLER}"),
    "photograph": ("Camera settings", f"A photograph needs light. {FILLER}"),
}

# (query, the notes that must come first in this order, notes that must not appear at all)
CASES = [
    ("photosynthesis ", ["title_photo", "body_photo"], ["photograph"]),
    ("machine learning ", ["adjacent", "scattered"], []),
    ('"machine learning"', ["adjacent"], ["scattered"]),
    ("mitochondria ", ["many_mitochondria", "one_mitochondria"], []),
    ("photo", ["title_photo"], []),
    ("machine -broke ", ["adjacent"], ["scattered"]),
]


@pytest.fixture
async def corpus(space: SearchSpace) -> dict[str, str]:
    ids = {}
    for key, (title, body) in CORPUS.items():
        ids[key] = (await space.note(title, body))["id"]
    return ids


@pytest.mark.parametrize(("query", "first", "absent"), CASES)
async def test_expected_notes_rank_first(
    space: SearchSpace,
    corpus: dict[str, str],
    query: str,
    first: list[str],
    absent: list[str],
) -> None:
    hits = await space.hits(query)
    found = [hit["id"] for hit in hits]
    assert found[: len(first)] == [corpus[key] for key in first], [h["title"] for h in hits]
    for key in absent:
        assert corpus[key] not in found
    scores = [hit["score"] for hit in hits]
    assert scores == sorted(scores, reverse=True)


async def test_prefix_finds_every_word_it_begins(
    space: SearchSpace, corpus: dict[str, str]
) -> None:
    found = set(await space.ids("photo"))
    expected = {corpus["title_photo"], corpus["body_photo"], corpus["photograph"]}
    assert found == expected
