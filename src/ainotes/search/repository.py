"""The search index behind one small protocol, with one class per database engine.

Both classes keep the document rows in ``search_documents`` and differ in how they match and
rank them. The SQL is written out per dialect because the two engines share little syntax
here; it contains no user input: the query arrives as an AST and is rendered by
``search.query`` into a bound parameter, and every filter is a bound parameter.
"""

import hashlib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    String,
    TextClause,
    bindparam,
    delete,
    func,
    or_,
    select,
    text,
    union,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.types import TypeEngine

from ainotes.core.db import ReadOnlySession
from ainotes.core.models import UTCDateTime
from ainotes.core.rows import RowWrite
from ainotes.notes.models import Note
from ainotes.search.models import SearchDocument
from ainotes.search.query import Phrase, SearchQuery, render_fts5, render_tsquery
from ainotes.search.schemas import SearchFilters

# Highlight markers: control characters that index_document strips from every text, so that
# they can only come from the engine and are turned into <mark> after HTML-escaping the rest.
MARK_OPEN = "\x02"
MARK_CLOSE = "\x03"
ELLIPSIS = "…"
# Words of body text around the matches in a snippet.
SNIPPET_WORDS = 24

# SQLite: bm25 weights per FTS5 column (title, body): a title hit counts ten body hits, so
# titles win over repeated mentions (bm25 saturates repeated terms well before ten).
FTS5_RANKING = "bm25(search_fts, 10.0, 1.0)"
# PostgreSQL: ts_rank_cd weights {D, C, B, A}; titles are A and bodies B (C and D are unused).
# Normalization 1 divides by 1 + log(document length), much as bm25 favours short documents.
TS_WEIGHTS = "{0.1, 0.2, 0.1, 1.0}"
TS_NORMALIZATION = 1
TS_CONFIG = "ainotes_search"


@dataclass(frozen=True, slots=True)
class IndexedDocument:
    doc_type: str
    doc_id: str
    note_id: str | None
    title: str
    body: str
    tags: list[str]
    archived: bool
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class RankedHit:
    doc_type: str
    doc_id: str
    note_id: str | None
    title: str
    tags: list[str]
    archived: bool
    updated_at: datetime
    score: float
    # Text with MARK_OPEN / MARK_CLOSE around matches, not yet escaped.
    marked_title: str
    marked_snippet: str


@dataclass(frozen=True, slots=True)
class NoteForIndex:
    id: str
    title: str
    body: str
    tags: list[str]
    archived: bool
    updated_at: datetime


class SearchIndex(Protocol):
    """The search index of one workspace."""

    workspace_id: str

    async def upsert(self, document: IndexedDocument) -> None: ...

    async def upsert_many(self, documents: Sequence[IndexedDocument]) -> None: ...

    async def remove(self, doc_type: str, doc_id: str) -> None: ...

    async def remove_many(self, doc_type: str, doc_ids: Sequence[str]) -> None: ...

    async def remove_all(self, doc_type: str) -> None: ...

    async def doc_ids(self, doc_type: str) -> set[str]: ...

    async def search(
        self, query: SearchQuery, filters: SearchFilters, limit: int, offset: int
    ) -> list[RankedHit]:
        """Hits in rank order; ``query`` must not be empty."""
        ...


_RESULT_TYPES: dict[str, TypeEngine[Any]] = {
    "tags": JSON(),
    "archived": Boolean(),
    "updated_at": UTCDateTime(),
    "score": Float(),
}


def _filter_sql(filters: SearchFilters, tag_condition: str) -> tuple[str, dict[str, Any]]:
    """AND-ed conditions on ``d`` (search_documents) and their parameters."""
    conditions: list[str] = []
    params: dict[str, Any] = {}
    if filters.doc_types:
        conditions.append("d.doc_type IN :doc_types")
        params["doc_types"] = [doc_type.value for doc_type in filters.doc_types]
    if filters.archived is not None:
        conditions.append("d.archived = :archived")
        params["archived"] = filters.archived
    if filters.updated_after is not None:
        conditions.append("d.updated_at > :updated_after")
        params["updated_after"] = filters.updated_after
    if filters.tag is not None:
        conditions.append(tag_condition)
        params["tag"] = filters.tag
    return "".join(f" AND {condition}" for condition in conditions), params


def _bind(statement: TextClause, params: dict[str, Any]) -> TextClause:
    binds: list[BindParameter[Any]] = []
    if "doc_types" in params:
        binds.append(bindparam("doc_types", expanding=True))
    if "updated_after" in params:
        # Bound through the column type, so that SQLite compares the stored text form.
        binds.append(bindparam("updated_after", type_=UTCDateTime()))
    return statement.bindparams(*binds) if binds else statement


def _hits(rows: Sequence[Any]) -> list[RankedHit]:
    return [
        RankedHit(
            doc_type=row.doc_type,
            doc_id=row.doc_id,
            note_id=row.note_id,
            title=row.title,
            tags=list(row.tags),
            archived=row.archived,
            updated_at=row.updated_at,
            score=float(row.score),
            marked_title=row.marked_title or "",
            marked_snippet=row.marked_snippet or "",
        )
        for row in rows
    ]


class _DocumentIndex:
    def __init__(self, session: ReadOnlySession, workspace_id: str) -> None:
        self.session = session
        self.workspace_id = workspace_id

    def _values(self, document: IndexedDocument) -> dict[str, Any]:
        return {
            "workspace_id": self.workspace_id,
            "doc_type": document.doc_type,
            "doc_id": document.doc_id,
            "note_id": document.note_id,
            "title": document.title,
            "body": document.body,
            "tags": document.tags,
            "archived": document.archived,
            "updated_at": document.updated_at,
        }

    async def upsert(self, document: IndexedDocument) -> None:
        await self.upsert_many([document])

    async def upsert_many(self, documents: Sequence[IndexedDocument]) -> None:
        for start in range(0, len(documents), UPSERT_CHUNK):
            await self._upsert_chunk(documents[start : start + UPSERT_CHUNK])

    async def _upsert_chunk(self, documents: Sequence[IndexedDocument]) -> None:
        raise NotImplementedError

    async def remove(self, doc_type: str, doc_id: str) -> None:
        await self.remove_many(doc_type, [doc_id])

    async def remove_many(self, doc_type: str, doc_ids: Sequence[str]) -> None:
        # In chunks: an IN list is one bound parameter an id.
        for start in range(0, len(doc_ids), UPSERT_CHUNK):
            await self.session.execute(
                delete(SearchDocument).where(
                    SearchDocument.workspace_id == self.workspace_id,
                    SearchDocument.doc_type == doc_type,
                    SearchDocument.doc_id.in_(list(doc_ids[start : start + UPSERT_CHUNK])),
                )
            )

    async def remove_all(self, doc_type: str) -> None:
        await self.session.execute(
            delete(SearchDocument).where(
                SearchDocument.workspace_id == self.workspace_id,
                SearchDocument.doc_type == doc_type,
            )
        )

    async def doc_ids(self, doc_type: str) -> set[str]:
        statement = select(SearchDocument.doc_id).where(
            SearchDocument.workspace_id == self.workspace_id,
            SearchDocument.doc_type == doc_type,
        )
        return set((await self.session.execute(statement)).scalars())


_UPDATED_COLUMNS = ("note_id", "title", "body", "tags", "archived", "updated_at")
# Documents per executemany, so that a reindex holds a bounded batch of parameters at a time.
UPSERT_CHUNK = 500


def _upsert_statement(insert: Any) -> Any:
    """INSERT … ON CONFLICT DO UPDATE over the table, built once and run as an executemany:
    a statement with one VALUES row per document would be compiled anew for every count.

    The ON CONFLICT condition rewrites a row only when something differs, so that re-indexing
    unchanged documents (a note's tasks on every save) writes nothing, and neither the FTS5
    triggers nor PostgreSQL's generated tsvector run for them."""
    table = SearchDocument.__table__
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=["workspace_id", "doc_type", "doc_id"],
        set_={name: statement.excluded[name] for name in _UPDATED_COLUMNS},
        where=or_(
            *(table.c[name].is_distinct_from(statement.excluded[name]) for name in _UPDATED_COLUMNS)
        ),
    )


_SQLITE_UPSERT = RowWrite(_upsert_statement(sqlite.insert))
_POSTGRES_UPSERT = RowWrite(_upsert_statement(postgresql.insert))
_SQLITE_TOP_ROWID = select(func.max(SearchDocument.fts_rowid)).where(
    SearchDocument.fts_rowid.between(bindparam("first"), bindparam("last"))
)


# Ranking needs every match scored: FTS5's bm25 costs ~1 us a match, PostgreSQL's ts_rank_cd
# a heap and usually a TOAST fetch (~10 us). A word in 30 % of a million notes would take a
# third of a second on SQLite and seconds on PostgreSQL, so both engines rank only the first
# RANKED_CANDIDATES matches (SQLite: the most recently indexed, PostgreSQL: in table order);
# a query with fewer matches is ranked exactly.
RANKED_CANDIDATES = 1000

# Three levels, each cutting what the next one works on:
# - candidate: the RANKED_CANDIDATES matches of the workspace with the highest FTS5 rowids
#   that pass the filters, scored. A document keeps its rowid when it is updated, so these are
#   the most recently indexed documents (an edited old note counts as old). FTS5 walks a
#   doclist in rowid order (descending here), so the LIMIT stops it early.
#   The rowid range is the workspace's block: FTS5 skips to it in every doclist, so other
#   workspaces' matches are never read; d.workspace_id still decides membership (blocks may
#   be shared, see below). CROSS JOIN keeps search_fts the outer loop, which bm25() needs.
# - page: the requested page of them by score; the higher rowid breaks ties.
# - outer: highlight() and snippet() only for the page's rows, through a rowid lookup in the
#   same MATCH (auxiliary functions need the match to mark it).
_SQLITE_SEARCH = """
SELECT d.doc_type, d.doc_id, d.note_id, d.title, d.tags, d.archived, d.updated_at,
       -page.rank AS score,
       highlight(search_fts, 0, :mark_open, :mark_close) AS marked_title,
       snippet(search_fts, 1, :mark_open, :mark_close, :ellipsis, :snippet_words)
           AS marked_snippet
FROM (
    SELECT candidate.fts_rowid, candidate.rank
    FROM (
        SELECT search_fts.rowid AS fts_rowid, <ranking> AS rank
        FROM search_fts CROSS JOIN search_documents AS d ON d.fts_rowid = search_fts.rowid
        WHERE search_fts MATCH :match
          AND search_fts.rowid BETWEEN :block_first AND :block_last
          AND d.workspace_id = :workspace_id{filters}
        ORDER BY search_fts.rowid DESC
        LIMIT <candidates>
    ) AS candidate
    ORDER BY candidate.rank, candidate.fts_rowid DESC
    LIMIT :limit OFFSET :offset
) AS page
CROSS JOIN search_fts ON search_fts.rowid = page.fts_rowid
CROSS JOIN search_documents AS d ON d.fts_rowid = page.fts_rowid
WHERE search_fts MATCH :match
ORDER BY page.rank, page.fts_rowid DESC
""".replace("<candidates>", str(RANKED_CANDIDATES)).replace("<ranking>", FTS5_RANKING)
_SQLITE_TAG = "EXISTS (SELECT 1 FROM json_each(d.tags) WHERE json_each.value = :tag)"


# Each workspace numbers its FTS5 rowids within a block of 2**32 chosen by a hash of its id,
# so that a rowid range confines a query to one workspace. Two workspaces may share a block
# (31-bit hash); that costs speed, not correctness, because results are joined on workspace_id.
_BLOCK_BITS = 32
_BLOCK_COUNT_MASK = 0x7FFFFFFF


def rowid_block(workspace_id: str) -> tuple[int, int]:
    """The first and last FTS5 rowid of the workspace's block (inclusive, within int64)."""
    digest = hashlib.sha256(workspace_id.encode()).digest()
    first = (int.from_bytes(digest[:4], "big") & _BLOCK_COUNT_MASK) << _BLOCK_BITS
    return first, first + (1 << _BLOCK_BITS) - 1


class SqliteSearchIndex(_DocumentIndex):
    """FTS5 over ``search_documents`` as external content; triggers keep it in step."""

    async def _upsert_chunk(self, documents: Sequence[IndexedDocument]) -> None:
        first, last = rowid_block(self.workspace_id)
        # Writers are serialized on SQLite (BEGIN IMMEDIATE), so max + 1 cannot race. Rows that
        # turn out to exist keep their rowid; the numbers they were offered stay unused.
        top = (
            await self.session.execute(_SQLITE_TOP_ROWID, {"first": first, "last": last})
        ).scalar_one()
        top = first if top is None else top
        await _SQLITE_UPSERT.run(
            self.session,
            [
                {**self._values(document), "fts_rowid": top + offset}
                for offset, document in enumerate(documents, start=1)
            ],
        )

    async def search(
        self, query: SearchQuery, filters: SearchFilters, limit: int, offset: int
    ) -> list[RankedHit]:
        filter_sql, params = _filter_sql(filters, _SQLITE_TAG)
        first, last = rowid_block(self.workspace_id)
        statement = _bind(text(_SQLITE_SEARCH.format(filters=filter_sql)), params)
        result = await self.session.execute(
            statement.columns(**_RESULT_TYPES),
            {
                **params,
                "match": render_fts5(query),
                "block_first": first,
                "block_last": last,
                "workspace_id": self.workspace_id,
                "mark_open": MARK_OPEN,
                "mark_close": MARK_CLOSE,
                "ellipsis": ELLIPSIS,
                "snippet_words": SNIPPET_WORDS,
                "limit": limit,
                "offset": offset,
            },
        )
        return _hits(result.all())


# Three levels, each cutting what the next one works on:
# - candidate: the first RANKED_CANDIDATES matches in table order. Either plan the planner
#   picks yields that order (a bitmap heap scan visits blocks in order; a sequential scan
#   starts at block 0 with synchronize_seqscans off), and either stops at the LIMIT: for a
#   very common word the sequential scan stops after a few thousand rows instead of fetching
#   every match, and the GIN index is still used whenever the matches are few.
#   The workspace test is written as "= ANY (ARRAY[...])", which the planner costs lower
#   than "=" and so evaluates before the match: a sequential scan that passes other
#   workspaces' rows then compares a key instead of fetching each one's tsvector from TOAST.
#   Indexes still use it (the primary key; a gin (workspace_id, search_vector) index too).
# - page: ts_rank_cd over the candidates only, cut to the requested page.
# - outer: the texts and ts_headline (costly: it re-parses the text) for that page alone.
# The cap is part of the text, not a bound parameter (bench/domain.py runs the statement
# postgres_search() builds, outside the application).
_POSTGRES_SEARCH = """
SELECT d.doc_type, d.doc_id, d.note_id, d.title, d.tags, d.archived, d.updated_at,
       page.score,
       ts_headline('{config}', d.title, to_tsquery('{config}', :tsquery), :title_options)
           AS marked_title,
       ts_headline('{config}', d.body, to_tsquery('{config}', :tsquery), :body_options)
           AS marked_snippet
FROM (
    SELECT candidate.doc_type, candidate.doc_id, candidate.updated_at,
           ts_rank_cd('{weights}', candidate.search_vector,
                      to_tsquery('{config}', :tsquery), {normalization}) AS score
    FROM ({candidates}
    ) AS candidate
    ORDER BY score DESC, candidate.updated_at DESC, candidate.doc_type, candidate.doc_id
    LIMIT :limit OFFSET :offset
) AS page
JOIN search_documents AS d
  ON d.workspace_id = :workspace_id AND d.doc_type = page.doc_type AND d.doc_id = page.doc_id
ORDER BY page.score DESC, page.updated_at DESC, page.doc_type, page.doc_id
"""
_POSTGRES_CANDIDATES = """
        SELECT d.doc_type, d.doc_id, d.updated_at, d.search_vector
        FROM search_documents AS d
        WHERE d.workspace_id = ANY (ARRAY[CAST(:workspace_id AS text)])
          AND d.search_vector @@ to_tsquery('{config}', :tsquery){filters}
        LIMIT <candidates>""".replace("<candidates>", str(RANKED_CANDIDATES))
# A query with a phrase of two or more words finds its candidates through the index of
# adjacent-word pairs (migration 0011): the documents holding every pair of its phrases, a
# superset of its matches that is usually as small. The tsquery then checks them. OFFSET 0
# keeps the pairs scan on its own: combined with the word index in one bitmap, every row would
# be rechecked against both conditions, and the pairs expression costs ~0.2 ms a document.
_POSTGRES_PHRASE_CANDIDATES = """
        SELECT paired.doc_type, paired.doc_id, paired.updated_at, paired.search_vector
        FROM (
            SELECT d.doc_type, d.doc_id, d.updated_at, d.search_vector
            FROM search_documents AS d
            WHERE d.workspace_id = ANY (ARRAY[CAST(:workspace_id AS text)])
              AND ainotes_search_pairs(d.search_vector)
                  @@ ainotes_search_pairs_query(CAST(:phrases AS text[])){filters}
            OFFSET 0
        ) AS paired
        WHERE paired.search_vector @@ to_tsquery('{config}', :tsquery)
        LIMIT <candidates>""".replace("<candidates>", str(RANKED_CANDIDATES))
# Planner settings for the rest of the (read) transaction, i.e. for the search statement:
# - plan_cache_mode: asyncpg prepares the statement once per connection, and a generic plan
#   cannot see the tsquery, so it would plan "the" like a rare word (or the reverse).
# - synchronize_seqscans, max_parallel_workers_per_gather: a synchronized scan starts where
#   the last scan of the table stopped, a parallel one returns rows in any order; either would
#   change "the first candidates" from one request, or one page, to the next.
# - enable_seqscan: the early stop of a sequential scan pays off only if the planner's match
#   estimate is right. For one word (or prefix) it comes from the column's most common
#   lexemes and is; for several words it assumes them independent, and for a phrase it counts
#   the documents holding all its words, so a phrase of two common words looks common and
#   would scan the whole table looking for its few matches. Those always use the index.
_POSTGRES_SETTINGS = """
SELECT set_config('plan_cache_mode', 'force_custom_plan', true),
       set_config('synchronize_seqscans', 'off', true),
       set_config('max_parallel_workers_per_gather', '0', true),
       set_config('enable_seqscan', :seqscan, true)
"""
_POSTGRES_TAG = "d.tags @> jsonb_build_array(CAST(:tag AS text))"
_HEADLINE_MARKS = f"StartSel={MARK_OPEN}, StopSel={MARK_CLOSE}"
_TITLE_OPTIONS = f"{_HEADLINE_MARKS}, HighlightAll=true"
_BODY_OPTIONS = (
    f"{_HEADLINE_MARKS}, MaxWords={SNIPPET_WORDS}, MinWords={SNIPPET_WORDS // 2}, "
    f'MaxFragments=2, FragmentDelimiter=" {ELLIPSIS} "'
)


# Longest word a phrase may have to use the pairs index: PostgreSQL drops words over 2,047
# bytes from what it indexes, and a phrase of such words is not what people type.
_MAX_PAIRED_WORD_CHARS = 200


def _pairable(word: str) -> bool:
    """Whether PostgreSQL's parser reads ``word`` as one word, as the query parser does: letters
    and decimal digits only. It skips some other characters the query parser keeps as word
    characters (U+09F4, say), and a phrase with those has pairs the documents do not."""
    return len(word) <= _MAX_PAIRED_WORD_CHARS and all(
        unicodedata.category(char)[0] == "L" or unicodedata.category(char) == "Nd" for char in word
    )


def _phrases(query: SearchQuery) -> list[str]:
    """The phrases of two or more words every match must contain (a typed prefix is not a
    word yet), each as its words separated by spaces; only phrases whose every word is
    pairable, so that each yields the pairs its matches hold."""
    phrases = []
    for clause in query.include:
        if isinstance(clause, Phrase):
            words = clause.words[:-1] if clause.prefix else clause.words
            if len(words) >= 2 and all(_pairable(word) for word in words):
                phrases.append(" ".join(words))
    return phrases


def postgres_search(query: SearchQuery, filter_sql: str) -> tuple[str, dict[str, Any]]:
    """The search statement for ``query`` with ``filter_sql`` in it, and the parameters that
    depend on the query (the tsquery; the phrases, when the pairs index serves them)."""
    phrases = _phrases(query)
    candidates = _POSTGRES_PHRASE_CANDIDATES if phrases else _POSTGRES_CANDIDATES
    sql = _POSTGRES_SEARCH.replace("{candidates}", candidates).format(
        config=TS_CONFIG, weights=TS_WEIGHTS, normalization=TS_NORMALIZATION, filters=filter_sql
    )
    params: dict[str, Any] = {"tsquery": render_tsquery(query)}
    if phrases:
        params["phrases"] = phrases
    return sql, params


def _single_term(query: SearchQuery) -> bool:
    """One word or prefix and nothing else: the query whose match count PostgreSQL estimates
    well enough to trust a sequential scan that stops early."""
    if query.exclude or len(query.include) != 1:
        return False
    clause = query.include[0]
    return isinstance(clause, Phrase) and len(clause.words) == 1


class PostgresSearchIndex(_DocumentIndex):
    """A generated, weighted tsvector column on ``search_documents`` with a GIN index."""

    async def _upsert_chunk(self, documents: Sequence[IndexedDocument]) -> None:
        # fts_rowid numbers FTS5's rows: SQLite's.
        await _POSTGRES_UPSERT.run(
            self.session,
            [{**self._values(document), "fts_rowid": None} for document in documents],
        )

    async def search(
        self, query: SearchQuery, filters: SearchFilters, limit: int, offset: int
    ) -> list[RankedHit]:
        filter_sql, params = _filter_sql(filters, _POSTGRES_TAG)
        seqscan = "on" if _single_term(query) else "off"
        await self.session.execute(text(_POSTGRES_SETTINGS), {"seqscan": seqscan})
        sql, query_params = postgres_search(query, filter_sql)
        statement = _bind(text(sql), params).bindparams(bindparam("tsquery", type_=String()))
        if "phrases" in query_params:
            statement = statement.bindparams(bindparam("phrases", type_=ARRAY(String())))
        result = await self.session.execute(
            statement.columns(**_RESULT_TYPES),
            {
                **params,
                **query_params,
                "workspace_id": self.workspace_id,
                "title_options": _TITLE_OPTIONS,
                "body_options": _BODY_OPTIONS,
                "limit": limit,
                "offset": offset,
            },
        )
        return _hits(result.all())


def search_index(session: ReadOnlySession, workspace_id: str) -> SearchIndex:
    """The index class for the session's database."""
    if session.get_bind().dialect.name == "sqlite":
        return SqliteSearchIndex(session, workspace_id)
    return PostgresSearchIndex(session, workspace_id)


async def rebuild_engine_index(session: ReadOnlySession) -> None:
    """Re-derive the engine's index from ``search_documents`` (all workspaces). FTS5 external
    content can drift if rows change behind the triggers' back; PostgreSQL's generated column
    cannot, so there it is a no-op."""
    if session.get_bind().dialect.name == "sqlite":
        await session.execute(text("INSERT INTO search_fts(search_fts) VALUES ('rebuild')"))


class NoteSource:
    """Reads the notes the index is built from (read-only use of the notes module's table)."""

    def __init__(self, session: ReadOnlySession) -> None:
        self.session = session

    async def workspaces(self) -> list[tuple[str, int]]:
        """Workspaces that have live notes or indexed documents of any kind, with their live
        note count: one whose notes and artifacts are all gone may still hold documents."""
        ids = union(
            select(Note.workspace_id).where(Note.trashed_at.is_(None)),
            select(SearchDocument.workspace_id),
        ).subquery()
        rows = await self.session.execute(select(ids.c.workspace_id).order_by(ids.c.workspace_id))
        workspace_ids = [row.workspace_id for row in rows]
        counted = await self.session.execute(
            select(Note.workspace_id, func.count().label("notes"))
            .where(Note.trashed_at.is_(None))
            .group_by(Note.workspace_id)
        )
        counts = {row.workspace_id: row.notes for row in counted}
        return [(workspace_id, counts.get(workspace_id, 0)) for workspace_id in workspace_ids]

    async def count(self, workspace_id: str) -> int:
        statement = select(func.count()).where(
            Note.workspace_id == workspace_id, Note.trashed_at.is_(None)
        )
        return (await self.session.execute(statement)).scalar_one()

    async def batch(self, workspace_id: str, after_id: str, size: int) -> list[NoteForIndex]:
        """Live notes of a workspace with ids above ``after_id``, in id order."""
        statement = (
            select(Note.id, Note.title, Note.body, Note.tags, Note.archived, Note.updated_at)
            .where(
                Note.workspace_id == workspace_id,
                Note.trashed_at.is_(None),
                Note.id > after_id,
            )
            .order_by(Note.id)
            .limit(size)
        )
        rows = (await self.session.execute(statement)).all()
        return [
            NoteForIndex(r.id, r.title, r.body, list(r.tags), r.archived, r.updated_at)
            for r in rows
        ]
