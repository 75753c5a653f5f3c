"""The search query language, parsed into a small AST and rendered per engine.

People type what web search taught them: words (all must match), ``"exact phrase"``, ``OR``
between alternatives, ``-word`` / ``-"phrase"`` to exclude, and the last word matches as a
prefix while they are still typing it. Everything else is text: parentheses, ``*``, ``:``,
``^``, ``NEAR``, ``AND``/``NOT`` and SQL fragments are split into plain words like any other
punctuation, so user input never reaches an engine as syntax. The renderers only ever emit
words made of letters and digits, each quoted, joined by operators this module chooses.

Pure: no I/O, no engine; ``tests/search/test_query.py`` covers it.
"""

import re
import unicodedata
from dataclasses import dataclass

# More than this is not a query someone typed; the route answers 422 before parsing.
MAX_QUERY_CHARS = 1000
# Each word is one more doclist for the engine to intersect; past this, refuse the query.
MAX_QUERY_WORDS = 32
# A one-letter prefix expands to a large share of the vocabulary; match it as a word instead.
MIN_PREFIX_CHARS = 2

# What both engines treat as a word: runs of letters and digits (FTS5 unicode61 and
# PostgreSQL's parser both split on underscore and every other punctuation or symbol).
_WORD = re.compile(r"[^\W_]+")
_OR = "OR"


class QueryTooComplex(ValueError):
    """The query has more words than ``MAX_QUERY_WORDS``."""


@dataclass(frozen=True, slots=True)
class Phrase:
    """Words that must appear next to each other, in order; one word is a phrase of one."""

    words: tuple[str, ...]
    # The last word matches any word it begins (typing in progress).
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class AnyOf:
    """At least one of the phrases must appear (``a OR b``)."""

    options: tuple[Phrase, ...]


Clause = Phrase | AnyOf


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """Every ``include`` clause must match and no ``exclude`` phrase may."""

    include: tuple[Clause, ...]
    exclude: tuple[Phrase, ...] = ()

    @property
    def is_empty(self) -> bool:
        """Nothing to look for: only exclusions, or no word at all (emoji, punctuation)."""
        return not self.include


@dataclass(frozen=True, slots=True)
class _Item:
    text: str
    negated: bool
    quoted: bool
    # The item runs to the end of the input with no space after it (the user is typing it).
    at_end: bool


def _lex(text: str) -> list[_Item | None]:
    """Split into items; ``None`` stands for the ``OR`` operator."""
    items: list[_Item | None] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        negated = (
            text[i] == "-"
            and i + 1 < n
            and (text[i + 1] == '"' or _WORD.match(text, i + 1) is not None)
        )
        if negated:
            i += 1
        if text[i] == '"':
            # An unbalanced quote makes a phrase of the rest of the input.
            end = text.find('"', i + 1)
            end = n if end == -1 else end
            items.append(_Item(text[i + 1 : end], negated, quoted=True, at_end=False))
            i = end + 1
            continue
        j = i
        while j < n and not text[j].isspace() and text[j] != '"':
            j += 1
        word = text[i:j]
        if word == _OR and not negated:
            items.append(None)
        else:
            items.append(_Item(word, negated, quoted=False, at_end=j == n))
        i = j
    return items


def _phrase(item: _Item, is_last: bool) -> Phrase | None:
    words = [match.group().lower() for match in _WORD.finditer(item.text)]
    if not words:
        return None
    prefix = (
        is_last
        and item.at_end
        and not item.quoted
        and not item.negated
        and len(words[-1]) >= MIN_PREFIX_CHARS
        # "foo." was finished by the punctuation; only a word still being typed is a prefix.
        and _WORD.fullmatch(item.text[-1]) is not None
    )
    return Phrase(tuple(words), prefix=prefix)


def parse(raw: str) -> SearchQuery:
    """Parse what a person typed. Never fails on content, only on size (``QueryTooComplex``)."""
    text = unicodedata.normalize("NFKC", raw)
    items = _lex(text)
    include: list[Clause] = []
    exclude: list[Phrase] = []
    pending_or = False
    for index, item in enumerate(items):
        if item is None:
            pending_or = bool(include)
            continue
        phrase = _phrase(item, is_last=index == len(items) - 1)
        if phrase is None:
            continue
        if item.negated:
            exclude.append(phrase)
        elif pending_or:
            previous = include.pop()
            options = previous.options if isinstance(previous, AnyOf) else (previous,)
            include.append(AnyOf((*options, phrase)))
        else:
            include.append(phrase)
        pending_or = False
    query = SearchQuery(tuple(include), tuple(exclude))
    if _word_count(query) > MAX_QUERY_WORDS:
        raise QueryTooComplex(f"a search query has at most {MAX_QUERY_WORDS} words")
    return query


def _phrases(query: SearchQuery) -> list[Phrase]:
    phrases = list(query.exclude)
    for clause in query.include:
        phrases.extend(clause.options if isinstance(clause, AnyOf) else (clause,))
    return phrases


def _word_count(query: SearchQuery) -> int:
    return sum(len(phrase.words) for phrase in _phrases(query))


def proximity_phrase(query: SearchQuery) -> Phrase | None:
    """All included words as one phrase, when the query is a plain list of two or more words
    or phrases: a document holding them side by side should outrank one where they are
    scattered (PostgreSQL's ``ts_rank_cd`` does this itself; FTS5's bm25 needs the hint)."""
    if len(query.include) < 2 or not all(isinstance(c, Phrase) for c in query.include):
        return None
    phrases = [c for c in query.include if isinstance(c, Phrase)]
    words = tuple(word for phrase in phrases for word in phrase.words)
    return Phrase(words, prefix=phrases[-1].prefix)


def _fts5_phrase(phrase: Phrase) -> str:
    # Words hold letters and digits only, so they cannot close the string or form operators.
    quoted = '"' + " ".join(phrase.words) + '"'
    return quoted + " *" if phrase.prefix else quoted


def _fts5_clause(clause: Clause) -> str:
    if isinstance(clause, Phrase):
        return _fts5_phrase(clause)
    return "(" + " OR ".join(_fts5_phrase(option) for option in clause.options) + ")"


def render_fts5(query: SearchQuery) -> str:
    """An FTS5 MATCH expression; ``query`` must not be empty."""
    expression = "(" + " AND ".join(_fts5_clause(c) for c in query.include) + ")"
    boost = proximity_phrase(query)
    if boost is not None:
        # Matches the same documents (the phrase implies every word), but bm25 sums over every
        # phrase of the expression, so documents that also hold the phrase rank higher.
        expression = f"({expression} OR {_fts5_phrase(boost)})"
    if query.exclude:
        excluded = " OR ".join(_fts5_phrase(p) for p in query.exclude)
        expression = f"({expression} NOT ({excluded}))"
    return expression


def _tsquery_phrase(phrase: Phrase) -> str:
    operands = [f"'{word}'" for word in phrase.words]
    if phrase.prefix:
        operands[-1] += ":*"
    return "(" + " <-> ".join(operands) + ")"


def _tsquery_clause(clause: Clause) -> str:
    if isinstance(clause, Phrase):
        return _tsquery_phrase(clause)
    return "(" + " | ".join(_tsquery_phrase(option) for option in clause.options) + ")"


def render_tsquery(query: SearchQuery) -> str:
    """Text for PostgreSQL's ``to_tsquery``; ``query`` must not be empty."""
    parts = [_tsquery_clause(c) for c in query.include]
    parts.extend("!" + _tsquery_phrase(p) for p in query.exclude)
    return " & ".join(parts)
