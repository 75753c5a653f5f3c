"""The query parser and its renderers: pure functions, no database."""

import re

import pytest

from ainotes.search.query import (
    MAX_QUERY_WORDS,
    AnyOf,
    Phrase,
    QueryTooComplex,
    SearchQuery,
    parse,
    proximity_phrase,
    render_fts5,
    render_tsquery,
)


class TestParse:
    def test_words_must_all_match_and_last_word_is_a_prefix(self):
        assert parse("machine learn") == SearchQuery(
            (Phrase(("machine",)), Phrase(("learn",), prefix=True))
        )

    def test_trailing_space_means_the_last_word_is_finished(self):
        assert parse("machine learn ") == SearchQuery((Phrase(("machine",)), Phrase(("learn",))))

    def test_one_letter_last_word_is_not_a_prefix(self):
        assert parse("vitamin c") == SearchQuery((Phrase(("vitamin",)), Phrase(("c",))))

    def test_words_are_lower_cased_and_normalized(self):
        assert parse("ＣＡＦÉ ") == SearchQuery((Phrase(("café",)),))

    def test_quoted_phrase(self):
        assert parse('"exact phrase" here ') == SearchQuery(
            (Phrase(("exact", "phrase")), Phrase(("here",)))
        )

    def test_quoted_phrase_is_never_a_prefix(self):
        assert parse('"exact phr"') == SearchQuery((Phrase(("exact", "phr")),))

    def test_unbalanced_quote_runs_to_the_end(self):
        assert parse('a "b c') == SearchQuery((Phrase(("a",)), Phrase(("b", "c"))))

    def test_or_joins_neighbours(self):
        assert parse("cats OR dogs OR birds food ") == SearchQuery(
            (
                AnyOf((Phrase(("cats",)), Phrase(("dogs",)), Phrase(("birds",)))),
                Phrase(("food",)),
            )
        )

    def test_lower_case_or_is_a_word(self):
        assert parse("this or that ") == SearchQuery(
            (Phrase(("this",)), Phrase(("or",)), Phrase(("that",)))
        )

    def test_dangling_or_is_ignored(self):
        assert parse("OR cats OR ") == SearchQuery((Phrase(("cats",)),))

    def test_minus_excludes_words_and_phrases(self):
        assert parse('pasta -tomato -"cream sauce" ') == SearchQuery(
            (Phrase(("pasta",)),), (Phrase(("tomato",)), Phrase(("cream", "sauce")))
        )

    def test_hyphen_inside_a_word_makes_a_phrase(self):
        assert parse("e-mail ") == SearchQuery((Phrase(("e", "mail")),))

    def test_prefix_of_a_hyphenated_last_word_is_on_its_last_part(self):
        assert parse("state-of-th") == SearchQuery((Phrase(("state", "of", "th"), prefix=True),))

    def test_punctuation_after_the_last_word_ends_it(self):
        assert parse("end.") == SearchQuery((Phrase(("end",)),))

    @pytest.mark.parametrize("raw", ["", "   ", "🎉🎉", "***", "-- ;", '""', "( ) ^ : *"])
    def test_nothing_to_search_for_is_empty(self, raw):
        assert parse(raw).is_empty

    def test_only_exclusions_is_empty(self):
        query = parse("-spam -eggs")
        assert query.is_empty
        assert query.exclude == (Phrase(("spam",)), Phrase(("eggs",)))

    def test_engine_operators_are_plain_words(self):
        words = [["a"], ["near", "b"], ["c"], ["and"], ["not"], ["d"], ["title", "e"], ["f"]]
        assert parse("a NEAR(b c) AND NOT d* title:e ^f ") == SearchQuery(
            tuple(Phrase(tuple(w)) for w in words)
        )

    def test_sql_fragment_is_words(self):
        assert parse("'; DROP TABLE notes; --") == SearchQuery(
            (Phrase(("drop",)), Phrase(("table",)), Phrase(("notes",)))
        )

    def test_too_many_words_is_refused(self):
        parse(" ".join(["w"] * MAX_QUERY_WORDS))
        with pytest.raises(QueryTooComplex):
            parse(" ".join(["w"] * (MAX_QUERY_WORDS + 1)))


class TestProximityPhrase:
    def test_plain_words_make_one_phrase(self):
        assert proximity_phrase(parse("machine lear")) == Phrase(("machine", "lear"), prefix=True)

    def test_single_word_or_alternatives_have_none(self):
        assert proximity_phrase(parse("machine")) is None
        assert proximity_phrase(parse("a OR b c")) is None


class TestRenderFts5:
    def test_words_phrases_alternatives_and_exclusions(self):
        query = parse('"big data" cats OR dogs -spam -"junk mail" ')
        assert render_fts5(query) == (
            '(("big data" AND ("cats" OR "dogs")) NOT ("spam" OR "junk mail"))'
        )

    def test_plain_words_add_the_proximity_phrase(self):
        assert render_fts5(parse("machine lear")) == (
            '(("machine" AND "lear" *) OR "machine lear" *)'
        )


class TestRenderTsquery:
    def test_words_phrases_alternatives_and_exclusions(self):
        query = parse('"big data" cats OR dogs -spam lear')
        assert render_tsquery(query) == (
            "('big' <-> 'data') & (('cats') | ('dogs')) & ('lear':*) & !('spam')"
        )


HOSTILE = [
    '"',
    '"""',
    'a"b',
    "NEAR(a b, 3)",
    "a AND OR NOT b",
    "title:secret",
    "^start",
    "*",
    "a*",
    "(((",
    ")",
    "'; DROP TABLE notes; --",
    "\\x00 \\ ' ''",
    "a & b | !c <-> d:*",
    "🎉 naïve Ωmega 東京",
    "x" * 1000,
    '- -- --- -"',
    "{title body}: x",
]
# What a renderer may emit: quoted words of letters and digits, and its own operators.
_FTS5_TOKEN = re.compile(r'"[^\W_]+(?: [^\W_]+)*"(?: \*)?|\(|\)|AND|OR|NOT|\s+')
_TSQUERY_TOKEN = re.compile(r"'[^\W_]+'(?::\*)?|\(|\)|&|\||!|<->|\s+")


@pytest.mark.parametrize("raw", [raw for raw in HOSTILE if not parse(raw).is_empty])
def test_rendered_queries_hold_nothing_but_quoted_words_and_our_operators(raw):
    query = parse(raw)
    for rendered, token in (
        (render_fts5(query), _FTS5_TOKEN),
        (render_tsquery(query), _TSQUERY_TOKEN),
    ):
        assert token.sub("", rendered) == "", rendered
