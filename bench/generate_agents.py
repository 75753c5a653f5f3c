"""Data for ``python -m bench agents`` (see bench/agents.py).

Two databases per backend:

- the **HTTP database** (SQLite ``bench/results/agents-http.db``, PostgreSQL
  ``ainotes_bench_agents``): one user and token (``ainotes.auth.service``), one workspace made by
  ``ainotes.workspaces.service.create`` (so its audit chain exists, as on a real server), and N
  notes bulk-inserted like ``bench.generate`` does. Made fresh for every run unless
  ``--skip-generate``.
- the **audit database** (``bench/results/agents-audit-N.db``, ``ainotes_bench_audit_N``): the
  same user and workspace, then N events in the workspace's chain, written directly in bulk
  (``sqlite3`` executemany, asyncpg COPY). Each event's hash is ``ainotes.core.audit.event_hash``
  over the event, chained through ``prev_hash``, and ``audit_chain_heads`` points at the last
  one, so that ``ainotes audit verify`` finds an intact chain. Reused while the schema revision
  is the code's head and the stored hashes still match ``event_hash`` (checked on the first and
  last event); otherwise made again.
"""

import asyncio
import contextlib
import json
import random
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import asyncpg
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import create_async_engine

from ainotes.auth import service as auth_service
from ainotes.core import audit, migrations
from ainotes.core.config import Settings
from ainotes.core.db import Database
from ainotes.workspaces import service as workspaces_service
from ainotes.workspaces.schemas import WorkspaceCreate
from bench.generate import POSTGRES_ADMIN_DSN, RESULTS_DIR, Text, _insert_notes, _ulid

SEED = 20_261_201
HTTP_DB = "ainotes_bench_agents"
EVENT_BATCH = 20_000
_USER_AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 Version/18.1 Safari",
    "ainotes-agent/1.4 python-httpx/0.28.1",
]


@dataclass
class HttpManifest:
    backend: str
    database_url: str
    token: str
    user_id: str
    workspace_id: str
    notes: int
    note_ids_file: str
    revision: str
    seconds: float


@dataclass
class AuditManifest:
    backend: str
    events: int
    database_url: str
    workspace_id: str
    revision: str
    seconds: float


def _sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def _postgres_url(name: str) -> str:
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


def http_url(backend: str) -> str:
    if backend == "sqlite":
        return _sqlite_url(RESULTS_DIR / "agents-http.db")
    return _postgres_url(HTTP_DB)


def audit_url(backend: str, events: int) -> str:
    if backend == "sqlite":
        return _sqlite_url(RESULTS_DIR / f"agents-audit-{events}.db")
    return _postgres_url(f"ainotes_bench_audit_{events}")


def _sqlite_file(url: str) -> Path:
    return Path(url.split("///", 1)[1])


def _postgres_name(url: str) -> str:
    return url.rsplit("/", 1)[1]


def _http_manifest_path(backend: str) -> Path:
    return RESULTS_DIR / f"agents-http-{backend}.json"


def _audit_manifest_path(backend: str, events: int) -> Path:
    return RESULTS_DIR / f"agents-audit-{backend}-{events}.json"


async def _drop_postgres(name: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


def _fresh(url: str) -> None:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    if url.startswith("sqlite"):
        path = _sqlite_file(url)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    else:
        asyncio.run(_drop_postgres(_postgres_name(url)))
    migrations.upgrade(url)


async def _revision(url: str) -> str | None:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(migrations.current_revision)
    finally:
        await engine.dispose()


async def _settle(database: Database, url: str) -> None:
    """Leave the database as a long-running server would find it, not mid-bulk-load."""
    if url.startswith("sqlite"):
        with contextlib.closing(sqlite3.connect(_sqlite_file(url))) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return
    async with database.write_engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text("VACUUM ANALYZE"))


async def _owner_and_workspace(database: Database, name: str) -> tuple[str, str, str]:
    """A user, its token and a workspace it owns, all through the services (with their
    audit events, so that the workspace's chain starts as on a real server)."""
    async with database.write_session() as session:
        user = await auth_service.create_user(session, "bench", "Benchmark", is_admin=True)
        _, token = await auth_service.issue_token(session, user, "bench")
        view = await workspaces_service.create(
            session, auth_service.principal_for(user), WorkspaceCreate(name=name)
        )
    return user.id, token, view.workspace.id


# --- the HTTP database ---------------------------------------------------------------------


def generate_http(backend: str, notes: int) -> HttpManifest:
    url = http_url(backend)
    _fresh(url)
    manifest = asyncio.run(_populate_http(backend, url, notes))
    _http_manifest_path(backend).write_text(json.dumps(asdict(manifest), indent=2))
    return manifest


def load_http(backend: str) -> HttpManifest:
    path = _http_manifest_path(backend)
    if not path.exists():
        raise SystemExit(f"{path} does not exist; run without --skip-generate first")
    manifest = HttpManifest(**json.loads(path.read_text()))
    head = migrations.head_revision()
    if asyncio.run(_revision(manifest.database_url)) != head:
        raise SystemExit(f"the {backend} HTTP database is not at revision {head}; regenerate it")
    return manifest


async def _populate_http(backend: str, url: str, notes: int) -> HttpManifest:
    started = time.perf_counter()
    rng = random.Random(SEED)
    database = Database(Settings(database_url=url, data_dir=RESULTS_DIR, bootstrap_admin=False))
    try:
        user_id, token, workspace_id = await _owner_and_workspace(database, "Agents bench")
        async with database.write_engine.begin() as connection:
            ids = await _insert_notes(connection, rng, workspace_id, notes, user_id, Text(rng))
        await _settle(database, url)
    finally:
        await database.dispose()
    ids_file = RESULTS_DIR / f"agents-{backend}-note-ids.txt"
    ids_file.write_text("\n".join(ids) + "\n")
    return HttpManifest(
        backend=backend,
        database_url=url,
        token=token,
        user_id=user_id,
        workspace_id=workspace_id,
        notes=notes,
        note_ids_file=str(ids_file),
        revision=migrations.head_revision(),
        seconds=round(time.perf_counter() - started, 1),
    )


# --- the audit database --------------------------------------------------------------------


def _hex(rng: random.Random) -> str:
    return rng.randbytes(32).hex()


def _events(
    rng: random.Random,
    workspace_id: str,
    user: tuple[str, str],
    first_seq: int,
    last_seq: int,
    prev_hash: str,
    start: datetime,
) -> Iterator[dict[str, Any]]:
    """Events as ainotes writes them, in their mix: people editing and creating notes and
    tasks, agents proposing, people approving (applied changes carry the proposal and act on
    behalf of the approver). Every field the hash covers is filled the way ``record`` fills
    it, including request ids, client address and user agent."""
    columns = [c.name for c in audit.AuditEvent.__table__.columns]
    agents = [(_ulid(rng, start), f"agent {i}") for i in range(4)]
    notes = [_ulid(rng, start) for _ in range(5_000)]
    versions = dict.fromkeys(notes, 1)
    at = start
    for seq in range(first_seq, last_seq + 1):
        at += timedelta(microseconds=rng.randint(1_000, 200_000))
        kind = rng.random()
        note = rng.choice(notes)
        row: dict[str, Any] = dict.fromkeys(columns)
        row.update(
            chain_id=workspace_id,
            seq=seq,
            occurred_at=at,
            actor_kind="user",
            actor_id=user[0],
            actor_name=user[1],
            target_type="note",
            target_id=note,
            request_id=_ulid(rng, at),
            client_ip=f"10.0.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            user_agent=rng.choice(_USER_AGENTS),
            prev_hash=prev_hash,
        )
        if kind < 0.55:
            version = versions[note]
            versions[note] = version + 1
            row["action"] = "note.updated"
            row["changes"] = {
                "body": {"before_digest": _hex(rng), "after_digest": _hex(rng)},
                "version": {"before": version, "after": version + 1},
            }
        elif kind < 0.70:
            row["action"] = "note.created"
            row["target_id"] = _ulid(rng, at)
            row["changes"] = {
                "title": {"before": None, "after": f"Lecture notes {seq}"},
                "body": {"before_digest": audit.digest(None), "after_digest": _hex(rng)},
                "tags": {"before_digest": audit.digest(None), "after_digest": _hex(rng)},
                "version": {"before": None, "after": 1},
            }
        elif kind < 0.80:
            row["action"] = "task.updated"
            row["target_type"] = "task"
            row["target_id"] = _ulid(rng, at)
            row["changes"] = {"status": {"before": "open", "after": "done"}}
        else:
            agent_id, agent_name = rng.choice(agents)
            proposal = _ulid(rng, at)
            row.update(
                actor_kind="agent",
                actor_id=agent_id,
                actor_name=agent_name,
                proposal_id=proposal,
                idempotency_key_hash=_hex(rng),
                correlation_id=f"corr-{rng.randrange(10**9)}",
                workflow_id=f"study-plan-{rng.randrange(1000)}",
                workflow_step="revise",
                trace_id=rng.randbytes(16).hex(),
            )
            if kind < 0.90:
                row["action"] = "proposal.submitted"
                row["target_type"] = "proposal"
                row["target_id"] = proposal
                row["changes"] = {"state": {"before": None, "after": "pending"}}
            else:
                version = versions[note]
                versions[note] = version + 1
                row["action"] = "note.updated"
                row["on_behalf_of"] = user[0]
                row["changes"] = {
                    "body": {"before_digest": _hex(rng), "after_digest": _hex(rng)},
                    "version": {"before": version, "after": version + 1},
                }
        if row["idempotency_key_hash"] is None and rng.random() < 0.3:
            row["idempotency_key_hash"] = _hex(rng)
        row["hash"] = audit.event_hash(cast(audit.AuditEvent, SimpleNamespace(**row)))
        prev_hash = row["hash"]
        yield row


def _batches(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _sqlite_value(value: Any) -> Any:
    # As SQLAlchemy's SQLite dialect stores them: DATETIME as ISO text without an offset (the
    # UTCDateTime type has made it UTC), JSON as its text.
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dict):
        return json.dumps(value)
    return value


def _load_sqlite(url: str, rows: Iterator[dict[str, Any]], columns: list[str]) -> tuple[int, str]:
    sql = (
        f"INSERT INTO audit_events ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)})"
    )
    last_seq, last_hash = 0, audit.GENESIS_HASH
    with contextlib.closing(sqlite3.connect(_sqlite_file(url))) as connection:
        connection.execute("PRAGMA synchronous=OFF")
        with connection:
            for batch in _batches(rows, EVENT_BATCH):
                connection.executemany(
                    sql, [tuple(_sqlite_value(r[c]) for c in columns) for r in batch]
                )
                last_seq, last_hash = batch[-1]["seq"], batch[-1]["hash"]
    return last_seq, last_hash


async def _load_postgres(
    url: str, rows: Iterator[dict[str, Any]], columns: list[str]
) -> tuple[int, str]:
    connection = await asyncpg.connect(
        f"postgresql://postgres@127.0.0.1:5432/{_postgres_name(url)}"
    )
    last_seq, last_hash = 0, audit.GENESIS_HASH
    try:
        async with connection.transaction():
            for batch in _batches(rows, EVENT_BATCH):
                records = [
                    tuple(json.dumps(r[c]) if c == "changes" else r[c] for c in columns)
                    for r in batch
                ]
                await connection.copy_records_to_table(
                    "audit_events", records=records, columns=columns
                )
                last_seq, last_hash = batch[-1]["seq"], batch[-1]["hash"]
    finally:
        await connection.close()
    return last_seq, last_hash


async def _populate_audit(backend: str, url: str, events: int) -> AuditManifest:
    started = time.perf_counter()
    rng = random.Random(SEED + events)
    database = Database(Settings(database_url=url, data_dir=RESULTS_DIR, bootstrap_admin=False))
    try:
        user_id, _, workspace_id = await _owner_and_workspace(database, "Audit bench")
        async with database.read_session() as session:
            head = await session.get(audit.AuditChainHead, workspace_id)
            first = (
                await session.execute(
                    select(audit.AuditEvent.occurred_at).where(
                        audit.AuditEvent.chain_id == workspace_id, audit.AuditEvent.seq == 1
                    )
                )
            ).scalar_one()
        assert head is not None
        # Seq 1 is the workspace's creation, recorded by the service.
        rows = _events(
            rng,
            workspace_id,
            (user_id, "bench"),
            head.last_seq + 1,
            events,
            head.last_hash,
            first,
        )
        columns = [c.name for c in audit.AuditEvent.__table__.columns]
        if backend == "sqlite":
            last_seq, last_hash = await asyncio.to_thread(_load_sqlite, url, rows, columns)
        else:
            last_seq, last_hash = await _load_postgres(url, rows, columns)
        async with database.write_session() as session:
            await session.execute(
                update(audit.AuditChainHead)
                .where(audit.AuditChainHead.chain_id == workspace_id)
                .values(last_seq=last_seq, last_hash=last_hash)
            )
        await _settle(database, url)
    finally:
        await database.dispose()
    return AuditManifest(
        backend=backend,
        events=events,
        database_url=url,
        workspace_id=workspace_id,
        revision=migrations.head_revision(),
        seconds=round(time.perf_counter() - started, 1),
    )


async def _still_valid(manifest: AuditManifest) -> str | None:
    """None when the database can be reused, else why not."""
    sqlite = manifest.database_url.startswith("sqlite")
    if sqlite and not _sqlite_file(manifest.database_url).exists():
        return "its file is gone"
    try:
        revision = await _revision(manifest.database_url)
    except Exception as error:  # a dropped database, a server that is down: make it again
        return f"it cannot be read ({error.__class__.__name__})"
    if revision != migrations.head_revision():
        return f"its schema is at {revision}, the code at {migrations.head_revision()}"
    database = Database(
        Settings(database_url=manifest.database_url, data_dir=RESULTS_DIR, bootstrap_admin=False)
    )
    try:
        async with database.read_session() as session:
            head = await session.get(audit.AuditChainHead, manifest.workspace_id)
            if head is None or head.last_seq != manifest.events:
                return "its chain head does not match"
            for seq in (1, manifest.events):
                event = (
                    await session.execute(
                        select(audit.AuditEvent).where(
                            audit.AuditEvent.chain_id == manifest.workspace_id,
                            audit.AuditEvent.seq == seq,
                        )
                    )
                ).scalar_one_or_none()
                if event is None or audit.event_hash(event) != event.hash:
                    return f"event {seq} no longer hashes the way the code hashes"
    except Exception as error:  # any failure means: make it again
        return f"it cannot be read ({error.__class__.__name__})"
    finally:
        await database.dispose()
    return None


def ensure_audit(backend: str, events: int, regenerate: bool = False) -> AuditManifest:
    """The audit database of ``events`` events: reused when still valid, else made again."""
    path = _audit_manifest_path(backend, events)
    if path.exists() and not regenerate:
        manifest = AuditManifest(**json.loads(path.read_text()))
        reason = asyncio.run(_still_valid(manifest))
        if reason is None:
            print(f"{backend}: reusing the audit database of {events:,} events", flush=True)
            return manifest
        print(f"{backend}: making the audit database again: {reason}", flush=True)
    print(f"{backend}: generating {events:,} audit events", flush=True)
    url = audit_url(backend, events)
    _fresh(url)
    manifest = asyncio.run(_populate_audit(backend, url, events))
    path.write_text(json.dumps(asdict(manifest), indent=2))
    print(f"{backend}: generated in {manifest.seconds} s", flush=True)
    return manifest
