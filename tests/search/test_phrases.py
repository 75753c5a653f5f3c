"""Phrase queries, on both engines. On PostgreSQL a phrase of two or more words finds its
candidates through the index of adjacent-word pairs (migration 0011), so these also check
that the pairs never lose a match the phrase has."""

import pytest

from ainotes.search import repository as search_repository
from ainotes.search.query import parse
from tests.search.support import SearchSpace

pytestmark = pytest.mark.anyio


async def test_a_phrase_matches_its_words_next_to_each_other_in_order(space: SearchSpace) -> None:
    inside = await space.note("Notes", "the bond market risk premium")
    in_title = await space.note("Market risk", "")
    across = await space.note("Across", "Market\n\n## Risk")
    await space.note("Apart", "market and risk")
    await space.note("Reversed", "risk market")

    assert set(await space.ids('"market risk"')) == {inside["id"], in_title["id"], across["id"]}
    assert await space.ids('"bond market risk premium"') == [inside["id"]]
    assert await space.ids('"market risk premium bond"') == []


async def test_phrases_are_matched_case_and_accent_insensitively(space: SearchSpace) -> None:
    note = await space.note("Menu", "Un Café Crème, s'il vous plaît")
    assert await space.ids('"cafe creme"') == [note["id"]]
    assert await space.ids('"CAFÉ crème"') == [note["id"]]


async def test_every_phrase_of_a_query_must_match(space: SearchSpace) -> None:
    both = await space.note("Both", "green apple and red cherry")
    await space.note("One", "green apple and red wine")
    assert await space.ids('"green apple" "red cherry"') == [both["id"]]
    assert await space.ids('"green apple" cherry ') == [both["id"]]


async def test_a_hyphenated_phrase_being_typed_ends_in_a_prefix(space: SearchSpace) -> None:
    note = await space.note("Typing", "interest rate swaps")
    await space.note("Other", "interest and rates")
    assert await space.ids("interest-rate-sw") == [note["id"]]
    assert await space.ids("interest-ra") == [note["id"]]


async def test_phrases_inside_or_and_excluded_phrases(space: SearchSpace) -> None:
    swap = await space.note("Swap", "interest rate swap")
    cap = await space.note("Cap", "interest rate cap")
    floor = await space.note("Floor", "price floor")
    assert set(await space.ids('"rate swap" OR "price floor"')) == {swap["id"], floor["id"]}
    assert await space.ids('interest -"rate swap"') == [cap["id"]]


async def test_a_phrase_through_hyphenated_words(space: SearchSpace) -> None:
    # PostgreSQL indexes "e-mail" as the compound and as its parts, at positions of their own;
    # the pairs of the parts and of what follows them are what a phrase needs.
    note = await space.note("Contact", "Write to the e-mail address below")
    await space.note("Other", "the address of the e-mail")
    assert await space.ids('"e-mail address"') == [note["id"]]
    assert await space.ids('"mail address below"') == [note["id"]]


async def test_a_repeated_word_phrase(space: SearchSpace) -> None:
    note = await space.note("Echo", "go go gadget")
    await space.note("Single", "go gadget go")
    assert await space.ids('"go go"') == [note["id"]]


async def test_a_phrase_thousands_of_words_into_a_body(space: SearchSpace) -> None:
    note = await space.note("Long", "filler " * 3000 + "deep phrase here")
    assert await space.ids('"deep phrase"') == [note["id"]]


async def test_long_neighbouring_words_are_indexed(space: SearchSpace) -> None:
    # On PostgreSQL two such words as one pair would exceed a lexeme's 2,047 bytes.
    note = await space.note("Hex", "a" * 1100 + " " + "b" * 1100 + " red deer")
    assert await space.ids('"red deer"') == [note["id"]]


on_postgres = pytest.mark.parametrize("settings", ["postgres"], indirect=True)


@on_postgres
async def test_postgres_phrases_take_their_candidates_from_the_pairs(space: SearchSpace) -> None:
    # Which index the planner picks depends on what else the shared test database holds; the
    # bench records the plan at scale (ix_search_documents_pairs). Here: the statement asks for
    # the pairs, and what it finds is right.
    for i in range(30):
        await space.note(f"Note {i}", "market risk" if i % 10 == 0 else "market and risk")
    sql, query_params = search_repository.postgres_search(parse('"market risk"'), "")
    assert "ainotes_search_pairs(d.search_vector)" in sql
    assert query_params["phrases"] == ["market risk"]
    assert len(await space.ids('"market risk"')) == 3


def test_single_words_and_prefix_only_phrases_do_not_use_the_pairs_index() -> None:
    for q in ["market ", "market risk ", '"market"', "market-ri", "market OR risk "]:
        sql, params = search_repository.postgres_search(parse(q), "")
        assert "ainotes_search_pairs" not in sql, q
        assert "phrases" not in params


@on_postgres
async def test_postgres_pairs_never_change_what_a_phrase_finds(
    space: SearchSpace, monkeypatch: pytest.MonkeyPatch
) -> None:
    bodies = [
        "alpha beta gamma",
        "alpha \u09f4 beta",
        "beta alpha",
        "Alpha-Beta gamma",
        "the e-mail address",
        "x" * 300 + " " + "y" * 300,
        "café crème brûlée",
    ]
    for i, body in enumerate(bodies):
        await space.note(f"Note {i}", body)
    queries = [
        '"alpha beta"',
        '"alpha \u09f4"',
        '"alpha \u09f4 beta"',
        '"beta gamma" alpha ',
        '"e-mail address"',
        '"' + "x" * 300 + " " + "y" * 300 + '"',
        '"cafe creme brulee"',
        "alpha-be",
    ]
    with_pairs = {q: sorted(await space.ids(q)) for q in queries}
    monkeypatch.setattr(search_repository, "_phrases", lambda _: [])
    without_pairs = {q: sorted(await space.ids(q)) for q in queries}
    assert with_pairs == without_pairs
    assert any(with_pairs.values())
