"""Issue 3's data set: one workspace of N notes with Zipf-distributed words, indexed for search,
plus a note with 1,000 backlinks and 100,000 tasks (see BENCHMARKS.md, "Supporting domain").

The user and token go through ``ainotes.auth.service`` like ``bench.generate``; the bulk rows go
in with the drivers' own bulk paths (``sqlite3`` executemany, asyncpg COPY), because 1M notes
through SQLAlchemy would take most of an hour. Search rows are written to ``search_documents``
only: on SQLite the migration's triggers fill FTS5, on PostgreSQL the generated ``search_vector``
column does, and the GIN index is dropped and rebuilt around the load (same definition as the
migration's), which is how one bulk-loads a GIN index.
"""

import asyncio
import contextlib
import itertools
import json
import random
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from ainotes.auth import service as auth_service
from ainotes.core import migrations
from ainotes.core.config import Settings
from ainotes.core.db import Database
from ainotes.core.models import table_insert
from ainotes.relationships.parser import title_key
from ainotes.search.repository import rowid_block
from ainotes.workspaces.models import Membership, Role, Workspace
from bench.generate import EPOCH, POSTGRES_ADMIN_DSN, RESULTS_DIR, SPAN, WORDS, _ulid

SEED = 20_261_125
BATCH = 10_000
VOCABULARY = 50_000
SENTENCE_POOL = 200_000
TITLE_POOL = 100_000
BACKLINKS = 1_000
TASKS = 100_000
TASKS_PER_NOTE = 5
TASK_TAGS = ["exam", "reading", "lab", "review", "flashcards", "later"]
ASSIGNEES = ["alice", "bob", "carol", "dan"]
TARGET_TITLE = "Backlink Target Note"
_SYLLABLES = (  # noqa: SIM905 (a list literal of 65 syllables would take 65 lines)
    "ba be bi bo bu ka ke ki ko ku la le li lo lu ma me mi mo mu na ne ni no nu ra re ri ro ru "
    "sa se si so su ta te ti to tu va ve vi vo vu za ze zi zo zu tra tri pro pre gra gre str "
    "an en in on un ar er ir or ur al el il ol ul ent ion ism ity ous ive"
).split()


@dataclass
class DomainManifest:
    backend: str
    notes: int
    database_url: str
    token: str
    workspace_id: str
    backlink_target_id: str
    link_titles: list[str]
    # Query class -> list of (raw query, matching notes).
    queries: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    seconds: float = 0.0

    def save(self) -> Path:
        path = domain_manifest_path(self.backend, self.notes)
        path.write_text(json.dumps(asdict(self), indent=2))
        return path


def domain_manifest_path(backend: str, notes: int) -> Path:
    return RESULTS_DIR / f"domain-{backend}-{notes}.json"


def load_domain_manifest(backend: str, notes: int) -> DomainManifest:
    path = domain_manifest_path(backend, notes)
    if not path.exists():
        raise SystemExit(f"{path} does not exist; generate it first")
    raw = json.loads(path.read_text())
    raw["queries"] = {k: [tuple(q) for q in v] for k, v in raw["queries"].items()}
    return DomainManifest(**raw)


def sqlite_path(notes: int) -> Path:
    return RESULTS_DIR / f"domain-{notes}.db"


def postgres_db(notes: int) -> str:
    return f"ainotes_bench_domain_{notes}"


def database_url(backend: str, notes: int) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{sqlite_path(notes)}"
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{postgres_db(notes)}"


def vocabulary(rng: random.Random) -> list[str]:
    """The generator's real words first (the most frequent ranks), then pseudo-words."""
    words = list(dict.fromkeys(WORDS))
    seen = set(words)
    while len(words) < VOCABULARY:
        word = "".join(rng.choices(_SYLLABLES, k=rng.choice((2, 3, 3, 4))))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


class Corpus:
    """Bodies of 5-13 sentences (~100 words) of words with a Zipf (s = 1) distribution."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.words = vocabulary(rng)
        # A quantile table: drawing uniformly from it is drawing from Zipf, 10x faster than
        # choices(cum_weights=...). Ranks rarer than one slot in 2**21 are rounded to a slot.
        cum = list(itertools.accumulate(1.0 / rank for rank in range(1, VOCABULARY + 1)))
        slots = 1 << 21
        self.table: list[str] = []
        for word, weight in zip(self.words, cum, strict=True):
            self.table.extend([word] * (round(weight / cum[-1] * slots) - len(self.table)))
        # Titles favour less common words, as titles do.
        self.title_words = self.words[100:20_000]

        # Bodies are drawn from a pool of Zipf sentences, which keeps the word statistics (a
        # sentence is in ~9 notes per 200k at 1M notes) at a tenth of the cost of drawing
        # every word, so that 1M notes can be generated on a shared machine.
        self.sentences = [self._sentence() for _ in range(SENTENCE_POOL)]
        self.titles = [
            " ".join(rng.choices(self.title_words, k=rng.randint(2, 5))).title()
            for _ in range(TITLE_POOL)
        ]

    def _sentence(self) -> str:
        sentence = " ".join(self.rng.choices(self.table, k=self.rng.randint(6, 16)))
        return sentence[:1].upper() + sentence[1:] + "."

    def body(self) -> str:
        rng = self.rng
        sentences = rng.choices(self.sentences, k=rng.randint(5, 13))
        cut = rng.randint(1, len(sentences))
        heading = rng.choice(self.titles)
        return " ".join(sentences[:cut]) + f"\n\n## {heading}\n\n" + " ".join(sentences[cut:])

    def title(self) -> str:
        return self.rng.choice(self.titles)


def _text(value: datetime) -> str:
    """SQLAlchemy's SQLite DATETIME storage format (UTC, no offset)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _rows(rng: random.Random, notes: int, workspace_id: str) -> Any:
    """Batches of (notes, title keys, search documents, relationships, tasks, task labels)."""
    corpus = Corpus(rng)
    first_rowid, _ = rowid_block(workspace_id)
    titles: list[str] = []
    target_id = ""
    for start in range(0, notes, BATCH):
        batch: dict[str, list[dict[str, Any]]] = {
            k: [] for k in ("notes", "keys", "docs", "links", "tasks", "labels")
        }
        for index in range(start, min(notes, start + BATCH)):
            created = EPOCH - SPAN * rng.random()
            updated = min(EPOCH, created + timedelta(days=30) * rng.random() ** 3)
            note_id = _ulid(rng, created)
            title = TARGET_TITLE if index == 0 else corpus.title()
            body = corpus.body()
            if index == 0:
                target_id = note_id
            elif index <= BACKLINKS:
                context = f"As shown in [[{TARGET_TITLE}]], the argument holds."
                body += "\n\n" + context
                batch["links"].append(
                    {
                        "id": _ulid(rng, updated),
                        "source_note_id": note_id,
                        "target_note_id": target_id,
                        "type": "references",
                        "source": "body",
                        "target_title": TARGET_TITLE,
                        "target_title_key": title_key(TARGET_TITLE),
                        "context": context,
                        "created_at": updated,
                    }
                )
            elif index <= BACKLINKS + TASKS // TASKS_PER_NOTE:
                lines = []
                for line in range(TASKS_PER_NOTE):
                    due = (
                        date(2026, 1, 1) + timedelta(days=rng.randrange(365))
                        if rng.random() < 0.4
                        else None
                    )
                    tags = sorted(set(rng.choices(TASK_TAGS, k=rng.randint(0, 2))))
                    assignees = [rng.choice(ASSIGNEES)] if rng.random() < 0.3 else []
                    done = rng.random() < 0.3
                    text = " ".join(rng.choices(corpus.title_words, k=rng.randint(3, 8)))
                    text += "".join(f" #{t}" for t in tags) + "".join(f" @{a}" for a in assignees)
                    text += f" 📅 {due.isoformat()}" if due else ""
                    lines.append(f"- [{'x' if done else ' '}] {text}")
                    task_id = _ulid(rng, updated)
                    batch["tasks"].append(
                        {
                            "id": task_id,
                            "note_id": note_id,
                            "line": line + 1,
                            "text": text,
                            "status": "done" if done else "open",
                            "due_on": due,
                            "due_rank": due.toordinal() if due else date.max.toordinal() + 1,
                            "tags": tags,
                            "assignees": assignees,
                            "created_at": updated,
                        }
                    )
                    batch["labels"] += [
                        {"kind": "tag", "value": t, "task_id": task_id} for t in tags
                    ]
                    batch["labels"] += [
                        {"kind": "assignee", "value": a, "task_id": task_id} for a in assignees
                    ]
                body = "\n".join(lines) + "\n\n" + body
            titles.append(title)
            batch["notes"].append(
                {
                    "id": note_id,
                    "title": title,
                    "body": body,
                    "created": created,
                    "updated": updated,
                }
            )
            batch["keys"].append({"note_id": note_id, "title_key": title_key(title)})
            batch["docs"].append({"doc_id": note_id, "fts_rowid": first_rowid + index + 1})
        yield batch


# ---------------------------------------------------------------------------------------------
# SQLite


def _load_sqlite(path: Path, rng: random.Random, notes: int, ws: str, user: str) -> None:
    connection = sqlite3.connect(path, isolation_level=None)
    with contextlib.closing(connection):
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("PRAGMA cache_size=-200000")
        connection.execute("BEGIN")
        for done, batch in enumerate(_rows(rng, notes, ws), start=1):
            connection.executemany(
                "INSERT INTO notes (workspace_id, id, title, body, tags, pinned, archived, "
                "version, created_by, updated_by, trashed_at, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, '[]', 0, 0, 1, ?, ?, NULL, ?, ?)",
                [
                    (
                        ws,
                        n["id"],
                        n["title"],
                        n["body"],
                        user,
                        user,
                        _text(n["created"]),
                        _text(n["updated"]),
                    )
                    for n in batch["notes"]
                ],
            )
            connection.executemany(
                "INSERT INTO note_title_keys (workspace_id, note_id, title_key) VALUES (?, ?, ?)",
                [(ws, k["note_id"], k["title_key"]) for k in batch["keys"]],
            )
            connection.executemany(
                "INSERT INTO search_documents (workspace_id, doc_type, doc_id, note_id, title, "
                "body, tags, archived, updated_at, fts_rowid) "
                "VALUES (?, 'note', ?, ?, ?, ?, '[]', 0, ?, ?)",
                [
                    (
                        ws,
                        n["id"],
                        n["id"],
                        n["title"],
                        n["body"],
                        _text(n["updated"]),
                        d["fts_rowid"],
                    )
                    for n, d in zip(batch["notes"], batch["docs"], strict=True)
                ],
            )
            connection.executemany(
                "INSERT INTO relationships (workspace_id, id, source_note_id, target_note_id, "
                "type, source, target_title, target_title_key, context, created_by, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        ws,
                        r["id"],
                        r["source_note_id"],
                        r["target_note_id"],
                        r["type"],
                        r["source"],
                        r["target_title"],
                        r["target_title_key"],
                        r["context"],
                        user,
                        _text(r["created_at"]),
                    )
                    for r in batch["links"]
                ],
            )
            connection.executemany(
                "INSERT INTO tasks (workspace_id, id, note_id, note_version, is_note_trashed, "
                "line, level, parent_id, text, status, due_on, due_rank, tags, assignees, "
                "created_at, updated_at) "
                "VALUES (?, ?, ?, 1, 0, ?, 0, NULL, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        ws,
                        t["id"],
                        t["note_id"],
                        t["line"],
                        t["text"],
                        t["status"],
                        t["due_on"].isoformat() if t["due_on"] else None,
                        t["due_rank"],
                        json.dumps(t["tags"]),
                        json.dumps(t["assignees"]),
                        _text(t["created_at"]),
                        _text(t["created_at"]),
                    )
                    for t in batch["tasks"]
                ],
            )
            connection.executemany(
                "INSERT INTO task_labels (workspace_id, kind, value, task_id) VALUES (?, ?, ?, ?)",
                [(ws, lb["kind"], lb["value"], lb["task_id"]) for lb in batch["labels"]],
            )
            if done % 10 == 0:
                print(f"  sqlite: {done * BATCH:,} notes", flush=True)
        connection.execute("COMMIT")
        # No ANALYZE: the server never runs it, so its SQLite plans are those without
        # statistics. Statistics of this data (all 1,000 links naming one title) made SQLite
        # scan every link for any title key, which no server of ours would do.
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")


# ---------------------------------------------------------------------------------------------
# PostgreSQL

# The migrations' GIN indexes (words, and adjacent-word pairs), dropped around a bulk load and
# built after it, which is how one bulk-loads a GIN index.
_GIN_INDEXES = {
    "ix_search_documents_search_vector": (
        "CREATE INDEX ix_search_documents_search_vector ON search_documents "
        "USING gin (search_vector)"
    ),
    "ix_search_documents_pairs": (
        "CREATE INDEX ix_search_documents_pairs ON search_documents "
        "USING gin (ainotes_search_pairs(search_vector))"
    ),
}


async def _drop_gin(connection: asyncpg.Connection) -> None:
    for name in _GIN_INDEXES:
        await connection.execute(f"DROP INDEX IF EXISTS {name}")


async def _build_gin(connection: asyncpg.Connection) -> None:
    for definition in _GIN_INDEXES.values():
        await connection.execute(definition)


async def _fresh_postgres(name: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def _load_postgres(name: str, rng: random.Random, notes: int, ws: str, user: str) -> None:
    connection = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}")
    try:
        await connection.execute("SET maintenance_work_mem = '1GB'")
        await _drop_gin(connection)
        for done, batch in enumerate(_rows(rng, notes, ws), start=1):
            async with connection.transaction():
                await _copy_batch(connection, batch, ws, user)
            if done % 10 == 0:
                print(f"  postgres: {done * BATCH:,} notes", flush=True)
        print("  postgres: building the GIN indexes", flush=True)
        await _build_gin(connection)
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


async def _copy_batch(
    connection: asyncpg.Connection, batch: dict[str, list[dict[str, Any]]], ws: str, user: str
) -> None:
    await connection.copy_records_to_table(
        "notes",
        columns=[
            *("workspace_id", "id", "title", "body", "tags", "pinned", "archived", "version"),
            *("created_by", "updated_by", "created_at", "updated_at"),
        ],
        records=[
            (
                ws,
                n["id"],
                n["title"],
                n["body"],
                "[]",
                False,
                False,
                1,
                user,
                user,
                n["created"],
                n["updated"],
            )
            for n in batch["notes"]
        ],
    )
    await connection.copy_records_to_table(
        "note_title_keys",
        columns=["workspace_id", "note_id", "title_key"],
        records=[(ws, k["note_id"], k["title_key"]) for k in batch["keys"]],
    )
    await connection.copy_records_to_table(
        "search_documents",
        columns=[
            *("workspace_id", "doc_type", "doc_id", "note_id", "title", "body", "tags"),
            *("archived", "updated_at"),
        ],
        records=[
            (ws, "note", n["id"], n["id"], n["title"], n["body"], "[]", False, n["updated"])
            for n in batch["notes"]
        ],
    )
    if batch["links"]:
        await connection.copy_records_to_table(
            "relationships",
            columns=[
                *("workspace_id", "id", "source_note_id", "target_note_id", "type", "source"),
                *("target_title", "target_title_key", "context", "created_by", "created_at"),
            ],
            records=[
                (
                    ws,
                    r["id"],
                    r["source_note_id"],
                    r["target_note_id"],
                    r["type"],
                    r["source"],
                    r["target_title"],
                    r["target_title_key"],
                    r["context"],
                    user,
                    r["created_at"],
                )
                for r in batch["links"]
            ],
        )
    if batch["tasks"]:
        await connection.copy_records_to_table(
            "tasks",
            columns=[
                *("workspace_id", "id", "note_id", "note_version", "is_note_trashed", "line"),
                *("level", "text", "status", "due_on", "due_rank", "tags", "assignees"),
                *("created_at", "updated_at"),
            ],
            records=[
                (
                    ws,
                    t["id"],
                    t["note_id"],
                    1,
                    False,
                    t["line"],
                    0,
                    t["text"],
                    t["status"],
                    t["due_on"],
                    t["due_rank"],
                    json.dumps(t["tags"]),
                    json.dumps(t["assignees"]),
                    t["created_at"],
                    t["created_at"],
                )
                for t in batch["tasks"]
            ],
        )
    if batch["labels"]:
        await connection.copy_records_to_table(
            "task_labels",
            columns=["workspace_id", "kind", "value", "task_id"],
            records=[(ws, lb["kind"], lb["value"], lb["task_id"]) for lb in batch["labels"]],
        )


# ---------------------------------------------------------------------------------------------
# Queries


def pick_queries(words: list[str], rng: random.Random) -> dict[str, list[str]]:
    """Raw query strings per class; matching counts are looked up in the loaded database.

    Ranks (Zipf s = 1, 60-140 words a note): rank ~20-35 is in about a quarter of the notes
    (the issue's "25k matches at 100k notes"); ranks 5,000-40,000 in 0.01-0.1 %.
    """
    # A trailing space ends the last word: without it the API matches it as a prefix.
    return {
        "common word": [f"{word} " for word in words[22:26]],
        "rare word": [f"{words[r]} " for r in rng.sample(range(5_000, 40_000), 10)],
        "two words": [
            f"{words[a]} {words[b]} " for a, b in zip(range(60, 70), range(200, 210), strict=False)
        ],
        "phrase": [
            f'"{words[a]} {words[b]}"' for a, b in zip(range(30, 40), range(40, 50), strict=False)
        ],
        # Typed without a trailing space: the last word is a prefix (search-as-you-type).
        "prefix": [words[r][:4] for r in range(300, 310) if len(words[r]) >= 5][:8],
    }


async def _count_postgres(name: str, queries: dict[str, list[str]], ws: str) -> dict[str, Any]:
    from ainotes.search.query import parse, render_tsquery

    connection = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}")
    try:
        counted = {}
        for kind, items in queries.items():
            counted[kind] = [
                (
                    q,
                    await connection.fetchval(
                        "SELECT count(*) FROM search_documents WHERE workspace_id = $1 AND "
                        "search_vector @@ to_tsquery('ainotes_search', $2)",
                        ws,
                        render_tsquery(parse(q)),
                    ),
                )
                for q in items
            ]
        return counted
    finally:
        await connection.close()


def _count_sqlite(path: Path, queries: dict[str, list[str]]) -> dict[str, Any]:
    from ainotes.search.query import parse, render_fts5

    with contextlib.closing(sqlite3.connect(path)) as connection:
        return {
            kind: [
                (
                    q,
                    connection.execute(
                        "SELECT count(*) FROM search_fts WHERE search_fts MATCH ?",
                        (render_fts5(parse(q)),),
                    ).fetchone()[0],
                )
                for q in items
            ]
            for kind, items in queries.items()
        }


async def _setup(url: str) -> tuple[str, str, str]:
    """User, token and workspace through the application's own code."""
    settings = Settings(database_url=url, data_dir=RESULTS_DIR, bootstrap_admin=False)
    database = Database(settings)
    rng = random.Random(SEED + 1)
    try:
        async with database.write_session() as session:
            user = await auth_service.create_user(session, "bench", "Benchmark", is_admin=True)
            _, token = await auth_service.issue_token(session, user, "bench")
        user_id = user.id
        workspace_id = _ulid(rng, EPOCH - SPAN)
        at = EPOCH - SPAN
        async with database.write_engine.begin() as connection:
            await connection.execute(
                table_insert(Workspace),
                [
                    {
                        "id": workspace_id,
                        "name": "Domain",
                        "description": "",
                        "created_by": user_id,
                        "created_at": at,
                        "updated_at": at,
                    }
                ],
            )
            await connection.execute(
                table_insert(Membership),
                [
                    {
                        "workspace_id": workspace_id,
                        "user_id": user_id,
                        "role": Role.OWNER.value,
                        "created_at": at,
                        "updated_at": at,
                    }
                ],
            )
    finally:
        await database.dispose()
    return token, user_id, workspace_id


def generate(backend: str, notes: int) -> DomainManifest:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    url = database_url(backend, notes)
    if backend == "postgres":
        asyncio.run(_fresh_postgres(postgres_db(notes)))
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{sqlite_path(notes)}{suffix}").unlink(missing_ok=True)
    migrations.upgrade(url)
    token, user_id, workspace_id = asyncio.run(_setup(url))
    rng = random.Random(SEED)
    if backend == "postgres":
        asyncio.run(_load_postgres(postgres_db(notes), rng, notes, workspace_id, user_id))
    else:
        _load_sqlite(sqlite_path(notes), rng, notes, workspace_id, user_id)
    # The same seed gives the same vocabulary and notes on both backends.
    words = vocabulary(random.Random(SEED))
    queries = pick_queries(words, random.Random(SEED + 2))
    if backend == "postgres":
        counted = asyncio.run(_count_postgres(postgres_db(notes), queries, workspace_id))
    else:
        counted = _count_sqlite(sqlite_path(notes), queries)
    target_id, link_titles = _targets(backend, notes)
    manifest = DomainManifest(
        backend=backend,
        notes=notes,
        database_url=url,
        token=token,
        workspace_id=workspace_id,
        backlink_target_id=target_id,
        link_titles=link_titles,
        queries=counted,
        seconds=round(time.perf_counter() - started, 1),
    )
    manifest.save()
    return manifest


def _targets(backend: str, notes: int) -> tuple[str, list[str]]:
    """The backlink target's id and 20 titles of existing notes for the create payload."""
    sql_target = "SELECT note_id FROM relationships LIMIT 1"
    sql_titles = "SELECT title FROM notes ORDER BY id LIMIT 20 OFFSET 50000"
    if backend == "sqlite":
        with contextlib.closing(sqlite3.connect(sqlite_path(notes))) as connection:
            target = connection.execute(sql_target.replace("note_id", "target_note_id")).fetchone()
            titles = [row[0] for row in connection.execute(sql_titles)]
            return target[0], titles

    async def fetch() -> tuple[str, list[str]]:
        connection = await asyncpg.connect(
            f"postgresql://postgres@127.0.0.1:5432/{postgres_db(notes)}"
        )
        try:
            target = await connection.fetchval(sql_target.replace("note_id", "target_note_id"))
            titles = [r["title"] for r in await connection.fetch(sql_titles)]
            return target, titles
        finally:
            await connection.close()

    return asyncio.run(fetch())


def recount(backend: str, notes: int) -> DomainManifest:
    """Pick the queries again (after changing ``pick_queries``) and count their matches."""
    manifest = load_domain_manifest(backend, notes)
    queries = pick_queries(vocabulary(random.Random(SEED)), random.Random(SEED + 2))
    if backend == "postgres":
        manifest.queries = asyncio.run(
            _count_postgres(postgres_db(notes), queries, manifest.workspace_id)
        )
    else:
        manifest.queries = _count_sqlite(sqlite_path(notes), queries)
    manifest.save()
    return manifest


# ---------------------------------------------------------------------------------------------
# 1M notes from 100k: ten copies of every note (new ids), indexed by the engines themselves

# A copy's id: the original with its 11th character (the first random one) moved k places on in
# the ULID alphabet, so that it differs from the original and from every other copy of it.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_COPY_SUFFIX = (
    "substr({column}, 1, 10) || substr('" + _ALPHABET + "', "
    "(({find}('" + _ALPHABET + "', substr({column}, 11, 1)) - 1 + {k}) % 32) + 1, 1) "
    "|| substr({column}, 12, 15)"
)


def amplify(backend: str, source_notes: int, factor: int) -> DomainManifest:
    """A ``source_notes * factor`` data set from the ``source_notes`` one, all in SQL.

    Generating 1M notes in Python takes ~300 s of CPU, which a machine shared at load 20 gives
    a niced process in about 80 minutes. Copying every note ``factor - 1`` times with new ids
    (one character of the ULID's random part shifted) in ``INSERT ... SELECT`` leaves the work
    that matters to the engines (FTS5 through the triggers; the generated tsvector and a GIN
    rebuild) and keeps the word statistics: every word's share of the notes is the same, so a
    common word matches ~30 % of 1M notes and a rare one ten times as many notes as at 100k.
    """
    started = time.perf_counter()
    source = load_domain_manifest(backend, source_notes)
    notes = source_notes * factor
    url = database_url(backend, notes)
    copies = range(1, factor)
    # Rows of the source data set are remembered first, so that each copy copies only them.
    remember = "CREATE TEMP TABLE originals AS SELECT id FROM notes"
    note_copy = (
        "INSERT INTO notes (workspace_id, id, title, body, tags, pinned, archived, version, "
        "created_by, updated_by, trashed_at, created_at, updated_at) "
        "SELECT workspace_id, {id}, title, body, tags, pinned, archived, version, created_by, "
        "updated_by, trashed_at, created_at, updated_at FROM notes "
        "WHERE id IN (SELECT id FROM originals)"
    )
    doc_copy = (
        "INSERT INTO search_documents (workspace_id, doc_type, doc_id, note_id, title, body, "
        "tags, archived, updated_at, fts_rowid) SELECT workspace_id, doc_type, {doc_id}, "
        "{doc_id}, title, body, tags, archived, updated_at, {rowid} FROM search_documents "
        "WHERE doc_type = 'note' AND doc_id IN (SELECT id FROM originals)"
    )
    queries = {kind: [q for q, _ in items] for kind, items in source.queries.items()}
    find = "instr" if backend == "sqlite" else "strpos"
    if backend == "sqlite":
        path = sqlite_path(notes)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        with contextlib.closing(sqlite3.connect(sqlite_path(source_notes))) as connection:
            connection.execute(f"VACUUM INTO '{path}'")
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=OFF")
            connection.execute("PRAGMA cache_size=-500000")
            connection.execute(remember)
            low, high = connection.execute(
                "SELECT min(fts_rowid), max(fts_rowid) FROM search_documents"
            ).fetchone()
            connection.execute("BEGIN")
            for k in copies:
                connection.execute(
                    note_copy.format(id=_COPY_SUFFIX.format(column="id", k=k, find=find))
                )
                connection.execute(
                    doc_copy.format(
                        doc_id=_COPY_SUFFIX.format(column="doc_id", k=k, find=find),
                        # Still inside the workspace's block of 2**32 rowids.
                        rowid=f"fts_rowid + {k * (high - low + 1)}",
                    )
                )
                print(f"  sqlite: copy {k} of {factor - 1}", flush=True)
            connection.execute("COMMIT")
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # no ANALYZE: see above
        counted = _count_sqlite(path, queries)
    else:

        async def copy() -> dict[str, Any]:
            admin = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{postgres_db(notes)}" WITH (FORCE)')
                await admin.execute(
                    f'CREATE DATABASE "{postgres_db(notes)}" TEMPLATE "{postgres_db(source_notes)}"'
                )
            finally:
                await admin.close()
            connection = await asyncpg.connect(
                f"postgresql://postgres@127.0.0.1:5432/{postgres_db(notes)}"
            )
            try:
                await connection.execute("SET maintenance_work_mem = '1GB'")
                await _drop_gin(connection)
                await connection.execute(remember)
                for k in copies:
                    new_id = _COPY_SUFFIX.format(column="id", k=k, find=find)
                    await connection.execute(note_copy.format(id=new_id))
                    await connection.execute(
                        doc_copy.format(
                            doc_id=_COPY_SUFFIX.format(column="doc_id", k=k, find=find),
                            rowid="NULL",
                        )
                    )
                    print(f"  postgres: copy {k} of {factor - 1}", flush=True)
                print("  postgres: building the GIN indexes", flush=True)
                await _build_gin(connection)
                await connection.execute("VACUUM ANALYZE")
            finally:
                await connection.close()
            return await _count_postgres(postgres_db(notes), queries, source.workspace_id)

        counted = asyncio.run(copy())
    manifest = DomainManifest(
        backend=backend,
        notes=notes,
        database_url=url,
        token=source.token,
        workspace_id=source.workspace_id,
        backlink_target_id=source.backlink_target_id,
        link_titles=source.link_titles,
        queries=counted,
        seconds=round(time.perf_counter() - started, 1),
    )
    manifest.save()
    return manifest


if __name__ == "__main__":
    import sys

    if sys.argv[1] == "recount":
        recount(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "amplify":
        amplify(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        generate(sys.argv[1], int(sys.argv[2]))
