"""A reproducible data set: workspaces, notes with markdown bodies, tags and one revision each.

The user and token go through ``ainotes.auth.service`` so that they are exactly what the server
expects; the bulk rows go in with SQLAlchemy Core executemany, which is two orders of magnitude
faster than the ORM for 100,000 notes. The same seed always gives the same titles, bodies, tags
and ids; only the secret of the token differs between runs.
"""

import asyncio
import contextlib
import json
import random
import sqlite3
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection
from ulid import ULID

from ainotes.auth import service as auth_service
from ainotes.core import migrations
from ainotes.core.config import Settings
from ainotes.core.db import Database
from ainotes.core.models import table_insert
from ainotes.notes.models import Note, NoteRevision, NoteTag
from ainotes.workspaces.models import Membership, Role, Workspace

RESULTS_DIR = Path(__file__).resolve().parent / "results"
POSTGRES_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
POSTGRES_BENCH_DB = "ainotes_bench"
SEED = 20_240_601
BATCH = 2_000
# Notes are spread over the year before this instant, so that ids and timestamps agree.
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=365)

_WORD_TEXT = (
    "cell membrane protein enzyme gradient entropy vector matrix theorem proof lemma "
    "integral derivative limit series function graph node edge tree heap queue stack "
    "mitochondria ribosome nucleus chromosome allele genotype phenotype selection drift "
    "market price demand supply elasticity inflation interest bond equity yield risk "
    "sentence clause grammar syntax semantics morphology phoneme dialect corpus token "
    "model layer weight bias gradient descent loss batch epoch attention embedding "
    "empire treaty revolution dynasty trade route colony reform parliament charter "
    "the a of and to in is that for it as with was on be by this are from at which "
    "we can see how why when where because however therefore thus also only more "
    "first second next then finally example note idea question answer review recall"
)
WORDS = _WORD_TEXT.split()
_TOPIC_TEXT = (
    "biology chemistry physics mathematics statistics economics history linguistics "
    "machine-learning algorithms databases networks philosophy psychology literature "
    "spanish japanese music art geography"
)
TOPICS = _TOPIC_TEXT.split()
TAG_POOL = [*TOPICS, *(f"{t}/{s}" for t in TOPICS[:8] for s in ("basics", "exam", "review"))]
TAG_POOL += ["todo", "flashcards", "lecture", "reading", "summary", "draft", "important"]


@dataclass
class Manifest:
    """What the load driver needs to know about a generated database."""

    backend: str
    database_url: str
    token: str
    user_id: str
    workspace_ids: list[str]
    big_workspace_id: str
    notes: int
    note_ids_file: str
    seconds: float

    def save(self) -> Path:
        path = manifest_path(self.backend)
        path.write_text(json.dumps(asdict(self), indent=2))
        return path


def manifest_path(backend: str) -> Path:
    return RESULTS_DIR / f"{backend}.json"


def load_manifest(backend: str) -> Manifest:
    path = manifest_path(backend)
    if not path.exists():
        raise SystemExit(f"{path} does not exist; run without --skip-generate first")
    return Manifest(**json.loads(path.read_text()))


def database_url(backend: str) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{RESULTS_DIR / 'ainotes_bench.db'}"
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{POSTGRES_BENCH_DB}"


class Text:
    """Markdown from a fixed pool of sentences: realistic shape, cheap to produce in bulk."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.sentences = [self._sentence() for _ in range(3_000)]
        self.titles = [self._title() for _ in range(5_000)]

    def _sentence(self) -> str:
        words = self.rng.choices(WORDS, k=self.rng.randint(6, 18))
        return " ".join(words).capitalize() + self.rng.choice(".....?!")

    def _title(self) -> str:
        return " ".join(self.rng.choices(WORDS, k=self.rng.randint(2, 6))).title()

    def paragraph(self) -> str:
        return " ".join(self.rng.choices(self.sentences, k=self.rng.randint(2, 6)))

    def body(self, titles: list[str]) -> str:
        rng = self.rng
        target = rng.randint(1_000, 4_000)
        parts = [f"# {rng.choice(self.titles)}", self.paragraph()]
        size = sum(len(p) for p in parts)
        while size < target:
            kind = rng.random()
            if kind < 0.15:
                block = f"## {rng.choice(self.titles)}"
            elif kind < 0.30:
                block = "\n".join(
                    f"- {rng.choice(self.sentences)}" for _ in range(rng.randint(2, 5))
                )
            elif kind < 0.40:
                block = "\n".join(
                    f"- [{rng.choice(' x')}] {rng.choice(self.titles).lower()}"
                    for _ in range(rng.randint(1, 4))
                )
            elif kind < 0.50 and titles:
                linked = ", ".join(f"[[{rng.choice(titles)}]]" for _ in range(rng.randint(1, 3)))
                block = f"See also {linked}. {rng.choice(self.sentences)}"
            else:
                block = self.paragraph()
            parts.append(block)
            size += len(block) + 2
        return "\n\n".join(parts)


def _ulid(rng: random.Random, at: datetime) -> str:
    millis = int(at.timestamp() * 1000)
    return str(ULID.from_bytes(millis.to_bytes(6, "big") + rng.randbytes(10)))


def _split(total: int, workspaces: int) -> list[int]:
    """Half the notes in the first ("big") workspace, the rest spread evenly over the others."""
    if workspaces == 1:
        return [total]
    big = total // 2
    rest = total - big
    share, extra = divmod(rest, workspaces - 1)
    return [big] + [share + (1 if i < extra else 0) for i in range(workspaces - 1)]


async def _fresh_postgres() -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{POSTGRES_BENCH_DB}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{POSTGRES_BENCH_DB}"')
    finally:
        await connection.close()


def _fresh_sqlite() -> None:
    for suffix in ("", "-wal", "-shm"):
        (RESULTS_DIR / f"ainotes_bench.db{suffix}").unlink(missing_ok=True)


async def _insert_notes(
    connection: AsyncConnection,
    rng: random.Random,
    workspace_id: str,
    count: int,
    user_id: str,
    source: Text,
) -> list[str]:
    note_ids: list[str] = []
    titles: list[str] = []
    for start in range(0, count, BATCH):
        notes: list[dict[str, Any]] = []
        tags: list[dict[str, Any]] = []
        revisions: list[dict[str, Any]] = []
        for _ in range(min(BATCH, count - start)):
            created = EPOCH - SPAN * rng.random()
            updated = min(EPOCH, created + timedelta(days=30) * rng.random() ** 3)
            note_id = _ulid(rng, created)
            title = rng.choice(source.titles)
            note_tags = sorted(set(rng.choices(TAG_POOL, k=rng.randint(0, 4))))
            row = {
                "workspace_id": workspace_id,
                "id": note_id,
                "title": title,
                "body": source.body(titles[-200:]),
                "tags": note_tags,
                "pinned": rng.random() < 0.02,
                "archived": rng.random() < 0.05,
                "version": 1,
                "created_by": user_id,
                "updated_by": user_id,
                "created_at": created,
                "updated_at": updated,
                "trashed_at": None,
            }
            notes.append(row)
            tags.extend(
                {"workspace_id": workspace_id, "tag": t, "note_id": note_id} for t in note_tags
            )
            revisions.append(
                {
                    "workspace_id": workspace_id,
                    "note_id": note_id,
                    "version": 1,
                    "title": title,
                    "body": row["body"],
                    "tags": note_tags,
                    "pinned": row["pinned"],
                    "archived": row["archived"],
                    "trashed": False,
                    "change": "create",
                    "unconditional": False,
                    "created_by": user_id,
                    "created_at": updated,
                }
            )
            note_ids.append(note_id)
            titles.append(title)
        await connection.execute(table_insert(Note), notes)
        if tags:
            await connection.execute(table_insert(NoteTag), tags)
        await connection.execute(table_insert(NoteRevision), revisions)
    return note_ids


async def _populate(backend: str, url: str, notes: int, workspaces: int) -> Manifest:
    started = time.perf_counter()
    rng = random.Random(SEED)
    settings = Settings(database_url=url, data_dir=RESULTS_DIR, bootstrap_admin=False)
    database = Database(settings)
    try:
        async with database.write_session() as session:
            user = await auth_service.create_user(session, "bench", "Benchmark", is_admin=True)
            _, token = await auth_service.issue_token(session, user, "bench")
        user_id = user.id
        workspace_ids = [_ulid(rng, EPOCH - SPAN) for _ in range(workspaces)]
        source = Text(rng)
        big_ids: list[str] = []
        async with database.write_engine.begin() as connection:
            await connection.execute(
                table_insert(Workspace),
                [
                    {
                        "id": wid,
                        "name": f"Workspace {i + 1}",
                        "description": "",
                        "created_by": user_id,
                        "created_at": EPOCH - SPAN,
                        "updated_at": EPOCH - SPAN,
                    }
                    for i, wid in enumerate(workspace_ids)
                ],
            )
            await connection.execute(
                table_insert(Membership),
                [
                    {
                        "workspace_id": wid,
                        "user_id": user_id,
                        "role": Role.OWNER.value,
                        "created_at": EPOCH - SPAN,
                        "updated_at": EPOCH - SPAN,
                    }
                    for wid in workspace_ids
                ],
            )
        for index, (workspace_id, count) in enumerate(
            zip(workspace_ids, _split(notes, workspaces), strict=True)
        ):
            # One transaction per workspace keeps the WAL and the undo log bounded.
            async with database.write_engine.begin() as connection:
                ids = await _insert_notes(connection, rng, workspace_id, count, user_id, source)
            if index == 0:
                big_ids = ids
        await _settle(database, backend)
    finally:
        await database.dispose()
    ids_file = RESULTS_DIR / f"{backend}-note-ids.txt"
    ids_file.write_text("\n".join(big_ids) + "\n")
    return Manifest(
        backend=backend,
        database_url=url,
        token=token,
        user_id=user_id,
        workspace_ids=workspace_ids,
        big_workspace_id=workspace_ids[0],
        notes=notes,
        note_ids_file=str(ids_file),
        seconds=round(time.perf_counter() - started, 1),
    )


async def _settle(database: Database, backend: str) -> None:
    """Leave the database as a long-running server would find it, not mid-bulk-load."""
    if backend == "postgres":
        # Autovacuum would analyse these tables soon after a bulk load; do it now so that the
        # first minutes of the run do not measure plans made without statistics.
        async with database.write_engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("VACUUM ANALYZE"))
    else:
        # Outside SQLAlchemy: its begin hook would wrap the checkpoint in a transaction.
        with contextlib.closing(sqlite3.connect(RESULTS_DIR / "ainotes_bench.db")) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def generate(backend: str, notes: int, workspaces: int) -> Manifest:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    url = database_url(backend)
    if backend == "postgres":
        asyncio.run(_fresh_postgres())
    else:
        _fresh_sqlite()
    migrations.upgrade(url)
    manifest = asyncio.run(_populate(backend, url, notes, workspaces))
    manifest.save()
    return manifest
