"""Full-text search over a workspace's notes, tasks and artifacts.

The index is written in the same transaction as the thing it indexes: notes through
``on_note_change``; tasks and artifacts by their modules calling ``index_document`` and
``remove_document``. Searching parses the user's text into an AST (``search.query``) and lets
the engine class of the session's database render and run it.

Pagination is by offset, carried in an opaque cursor bound to the query and filters: ranks
are floats recomputed from corpus statistics on every request, so a keyset on (score, id)
would not be stable either, and an offset is honest about it. Pages may shift if the index
changes between requests; paging stops at ``MAX_OFFSET``. On PostgreSQL a query with more
matches than ``repository.RANKED_CANDIDATES`` ranks only that many of them (the first it finds
in table order, the same ones for every page), so its pages end there.
"""

import base64
import binascii
import hashlib
import html
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from ainotes.core.db import ReadOnlySession, WritableSession
from ainotes.core.pagination import InvalidCursor
from ainotes.notes.events import NoteChange, NoteChangeKind
from ainotes.search.errors import EmptySearchQuery, SearchQueryTooComplex
from ainotes.search.query import QueryTooComplex, parse
from ainotes.search.repository import (
    MARK_CLOSE,
    MARK_OPEN,
    IndexedDocument,
    NoteSource,
    RankedHit,
    rebuild_engine_index,
    search_index,
)
from ainotes.search.schemas import DocType, SearchFilters

# Rank-ordered results past this depth are not worth computing; no cursor leads further.
MAX_OFFSET = 1000
# Only the start of a long text is indexed: PostgreSQL refuses tsvectors over 1 MB, and
# ts_headline's cost grows with the text. Both engines index the same prefix.
MAX_INDEXED_TITLE_CHARS = 1000
MAX_INDEXED_BODY_CHARS = 100_000
# Notes read per round trip while reindexing.
REINDEX_BATCH = 500

# The highlight markers, and NUL (which PostgreSQL text cannot hold), never enter the index.
_UNINDEXABLE = re.compile(f"[\x00{MARK_OPEN}{MARK_CLOSE}]")
_TAG_SEPARATORS = re.compile(r"[\s_]+")


@dataclass(frozen=True, slots=True)
class SearchResult:
    """One hit as the API returns it (``SearchHit``)."""

    type: DocType
    id: str
    note_id: str | None
    title: str
    highlighted_title: str
    snippet: str
    tags: list[str]
    archived: bool
    updated_at: datetime
    score: float


def _indexable(text: str, limit: int) -> str:
    return _UNINDEXABLE.sub("", text[:limit])


async def index_document(
    session: WritableSession,
    workspace_id: str,
    doc_type: DocType,
    doc_id: str,
    *,
    title: str,
    body: str,
    tags: Sequence[str],
    archived: bool,
    note_id: str | None,
    updated_at: datetime,
) -> None:
    """Add or replace a document in the workspace's index (in the caller's transaction)."""
    await index_documents(
        session,
        workspace_id,
        doc_type,
        [Document(doc_id, title, body, tuple(tags), archived, note_id, updated_at)],
    )


@dataclass(frozen=True, slots=True)
class Document:
    """What ``index_documents`` stores for one searchable thing."""

    doc_id: str
    title: str
    body: str
    tags: Sequence[str]
    archived: bool
    # The note the document is, or comes from; None for documents of no note.
    note_id: str | None
    updated_at: datetime


async def index_documents(
    session: WritableSession, workspace_id: str, doc_type: DocType, documents: Sequence[Document]
) -> None:
    """Add or replace many documents of one type in a few statements; documents that are
    already indexed as given are left untouched, so re-indexing them is cheap."""
    await search_index(session, workspace_id).upsert_many(
        [
            IndexedDocument(
                doc_type=doc_type.value,
                doc_id=document.doc_id,
                note_id=document.note_id,
                title=_indexable(document.title, MAX_INDEXED_TITLE_CHARS),
                body=_indexable(document.body, MAX_INDEXED_BODY_CHARS),
                tags=list(document.tags),
                archived=document.archived,
                updated_at=document.updated_at,
            )
            for document in documents
        ]
    )


async def remove_document(
    session: WritableSession, workspace_id: str, doc_type: DocType, doc_id: str
) -> None:
    """Take a document out of the index; removing one that is not there is not an error."""
    await remove_documents(session, workspace_id, doc_type, [doc_id])


async def remove_documents(
    session: WritableSession, workspace_id: str, doc_type: DocType, doc_ids: Sequence[str]
) -> None:
    """Take documents out of the index (a statement per 500); absent ones are ignored."""
    await search_index(session, workspace_id).remove_many(doc_type.value, doc_ids)


async def indexed_ids(session: ReadOnlySession, workspace_id: str, doc_type: DocType) -> set[str]:
    """The ids of the workspace's documents of one type that the index holds."""
    return await search_index(session, workspace_id).doc_ids(doc_type.value)


async def on_note_change(session: WritableSession, change: NoteChange) -> None:
    """Keep the note's search document in step with the write (same transaction): live notes
    are indexed, trashed and purged ones are not."""
    if change.kind in (NoteChangeKind.TRASHED, NoteChangeKind.PURGED) or change.trashed:
        await remove_document(session, change.workspace_id, DocType.NOTE, change.note_id)
        return
    await index_document(
        session,
        change.workspace_id,
        DocType.NOTE,
        change.note_id,
        title=change.title,
        body=change.body,
        tags=change.tags,
        archived=change.archived,
        note_id=change.note_id,
        updated_at=change.updated_at,
    )


def normalize_tag_filter(raw: str) -> str:
    """The tag as notes store it: no '#', lower case, spaces and underscores as hyphens."""
    return _TAG_SEPARATORS.sub("-", raw.strip().lstrip("#").strip().lower()).strip("-")


def _fingerprint(raw_query: str, filters: SearchFilters) -> str:
    key = json.dumps(
        [
            raw_query,
            sorted(filters.doc_types),
            filters.tag,
            filters.archived,
            filters.updated_after.isoformat() if filters.updated_after else None,
        ]
    )
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _encode_cursor(fingerprint: str, offset: int) -> str:
    raw = json.dumps({"q": fingerprint, "o": offset}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(fingerprint: str, cursor: str) -> int:
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        offset = payload["o"]
        if payload["q"] != fingerprint or not isinstance(offset, int):
            raise ValueError("cursor of another search")
        if not 0 < offset <= MAX_OFFSET:
            raise ValueError("offset out of range")
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError):
        raise InvalidCursor(
            "The cursor is not one this search issued; run the search again without it."
        ) from None
    return offset


def _to_html(marked: str) -> str:
    """Escape the text for HTML, then turn the engine's markers into <mark> elements."""
    escaped = html.escape(marked, quote=True)
    return escaped.replace(MARK_OPEN, "<mark>").replace(MARK_CLOSE, "</mark>")


def _result(hit: RankedHit) -> SearchResult:
    return SearchResult(
        type=DocType(hit.doc_type),
        id=hit.doc_id,
        note_id=hit.note_id,
        title=hit.title,
        highlighted_title=_to_html(hit.marked_title),
        snippet=_to_html(hit.marked_snippet),
        tags=hit.tags,
        archived=hit.archived,
        updated_at=hit.updated_at,
        score=hit.score,
    )


async def search(
    session: ReadOnlySession,
    workspace_id: str,
    raw_query: str,
    filters: SearchFilters,
    cursor: str | None,
    limit: int,
) -> tuple[list[SearchResult], str | None]:
    """Search one workspace. Blank input is a 422 problem; input with no word to look for
    (only punctuation, emoji, or exclusions) finds nothing."""
    if not raw_query.strip():
        raise EmptySearchQuery("Type at least one word to search for.")
    try:
        query = parse(raw_query)
    except QueryTooComplex as error:
        raise SearchQueryTooComplex(f"The query is too long: {error}.") from None
    fingerprint = _fingerprint(raw_query, filters)
    offset = 0 if cursor is None else _decode_cursor(fingerprint, cursor)
    if query.is_empty:
        return [], None
    hits = await search_index(session, workspace_id).search(query, filters, limit + 1, offset)
    next_offset = offset + limit
    next_cursor = None
    if len(hits) > limit and next_offset <= MAX_OFFSET:
        next_cursor = _encode_cursor(fingerprint, next_offset)
    return [_result(hit) for hit in hits[:limit]], next_cursor


@dataclass(frozen=True, slots=True)
class ReindexPlan:
    workspace_id: str
    notes: int


async def plan_reindex(session: ReadOnlySession, workspace_id: str | None) -> list[ReindexPlan]:
    """The workspaces a reindex visits (one, or every one with notes or indexed documents) and
    how many live notes each has, so that progress can be shown against a total."""
    source = NoteSource(session)
    if workspace_id is not None:
        return [ReindexPlan(workspace_id, await source.count(workspace_id))]
    return [ReindexPlan(ws, notes) for ws, notes in await source.workspaces()]


async def reindex_workspace(
    session: WritableSession, workspace_id: str, on_progress: Callable[[int], None]
) -> int:
    """Rebuild the workspace's note documents from its live notes, in the caller's
    transaction (readers see the old index or the new one, never half of it)."""
    index = search_index(session, workspace_id)
    await index.remove_all(DocType.NOTE.value)
    source = NoteSource(session)
    done, after = 0, ""
    while batch := await source.batch(workspace_id, after, REINDEX_BATCH):
        await index_documents(
            session,
            workspace_id,
            DocType.NOTE,
            [
                Document(n.id, n.title, n.body, n.tags, n.archived, n.id, n.updated_at)
                for n in batch
            ],
        )
        done += len(batch)
        after = batch[-1].id
        on_progress(len(batch))
    return done


async def rebuild_engine(session: WritableSession) -> None:
    """Re-derive the engine's own index (SQLite FTS5) from every workspace's documents."""
    await rebuild_engine_index(session)
