"""The audit log: one append-only, hash-chained event per change, in the change's transaction.

Every write service calls ``record`` with the session of its write, so an event commits or rolls
back with its change. Events form one chain per workspace (and one ``system`` chain for changes
outside any workspace): each carries a gapless ``seq``, the hash of the previous event and its
own hash over a canonical encoding, so that an edited, deleted or reordered event is detected
by ``verify``.
"""

import hashlib
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Text, bindparam, select, update
from sqlalchemy.orm import Mapped, mapped_column

from ainotes.core.context import current_idempotency_key_hash, get_request_context
from ainotes.core.db import ReadOnlySession, WritableSession
from ainotes.core.models import Base, table_insert, utcnow
from ainotes.core.principal import Principal
from ainotes.core.rows import RowWrite

SYSTEM_CHAIN = "system"
GENESIS_HASH = "0" * 64
# Fields whose values are small and not content are stored as they are; everything else is
# stored as a digest, so that the log proves what changed without copying documents.
_PLAIN_VALUE_MAX = 200


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index(None, "chain_id", "occurred_at"),
        Index(None, "chain_id", "target_type", "target_id"),
        Index(None, "chain_id", "request_id"),
        Index(None, "chain_id", "correlation_id"),
        Index(None, "chain_id", "workflow_id"),
        Index(None, "chain_id", "proposal_id"),
    )

    # The workspace id, or "system" for changes outside any workspace.
    chain_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column()
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(26))
    actor_name: Mapped[str] = mapped_column(String(200))
    on_behalf_of: Mapped[str | None] = mapped_column(String(26))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str] = mapped_column(String(64))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)
    request_id: Mapped[str | None] = mapped_column(String(128))
    correlation_id: Mapped[str | None] = mapped_column(String(128))
    trace_id: Mapped[str | None] = mapped_column(String(32))
    workflow_id: Mapped[str | None] = mapped_column(String(128))
    workflow_step: Mapped[str | None] = mapped_column(String(128))
    proposal_id: Mapped[str | None] = mapped_column(String(26))
    idempotency_key_hash: Mapped[str | None] = mapped_column(String(64))
    client_ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditChainHead(Base):
    """The last event of each chain. Updating it takes a row lock, which orders concurrent
    writers of one workspace and keeps ``seq`` gapless."""

    __tablename__ = "audit_chain_heads"

    chain_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    last_seq: Mapped[int] = mapped_column()
    last_hash: Mapped[str] = mapped_column(String(64))


def digest(value: Any) -> str:
    return hashlib.sha256(_canonical(value).encode()).hexdigest()


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def change(before: Any, after: Any) -> dict[str, Any]:
    """One changed field as the log keeps it: the values when small, else their digests."""
    if all(_is_plain(v) for v in (before, after)):
        return {"before": before, "after": after}
    return {"before_digest": digest(before), "after_digest": digest(after)}


def _is_plain(value: Any) -> bool:
    if value is None or isinstance(value, bool | int | float):
        return True
    return isinstance(value, str) and len(value) <= _PLAIN_VALUE_MAX and "\n" not in value


def changes_between(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: change(before.get(key), after.get(key))
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }


_HASHED_FIELDS = (
    "chain_id",
    "seq",
    "occurred_at",
    "actor_kind",
    "actor_id",
    "actor_name",
    "on_behalf_of",
    "action",
    "target_type",
    "target_id",
    "changes",
    "request_id",
    "correlation_id",
    "trace_id",
    "workflow_id",
    "workflow_step",
    "proposal_id",
    "idempotency_key_hash",
    "client_ip",
    "user_agent",
    "prev_hash",
)


def event_hash(event: AuditEvent | Mapping[str, Any]) -> str:
    """The hash of an event's fields, stored (an AuditEvent) or about to be (a row)."""
    if isinstance(event, Mapping):
        payload = {name: event[name] for name in _HASHED_FIELDS}
    else:
        payload = {name: getattr(event, name) for name in _HASHED_FIELDS}
    payload["occurred_at"] = payload["occurred_at"].isoformat()
    return digest(payload)


# An event is a row, not an entity: nothing in a request reads it back through the session,
# and the unit of work's bookkeeping cost a tenth of a note write's CPU (core/rows.py).
_INSERT_EVENT = RowWrite(table_insert(AuditEvent))
_ADVANCE_HEAD = RowWrite(
    update(AuditChainHead)
    .where(AuditChainHead.chain_id == bindparam("chain"))
    .values(last_seq=bindparam("seq_now"), last_hash=bindparam("hash_now"))
)
# Locks the head until the transaction ends: the next writer to the chain waits here on
# PostgreSQL (SQLite's writers hold the database lock already).
_LOCKED_HEAD = (
    select(AuditChainHead.last_seq, AuditChainHead.last_hash)
    .where(AuditChainHead.chain_id == bindparam("chain"))
    .with_for_update()
)


async def record(
    session: WritableSession,
    *,
    actor: Principal,
    action: str,
    target_type: str,
    target_id: str,
    workspace_id: str | None,
    changes: Mapping[str, Any] | None = None,
    on_behalf_of: str | None = None,
    proposal_id: str | None = None,
    idempotency_key_hash: str | None = None,
) -> None:
    """Append one event to the workspace's chain, in the caller's transaction."""
    chain_id = workspace_id or SYSTEM_CHAIN
    seq, prev_hash = await _advance_head(session, chain_id)
    context = get_request_context()
    event: dict[str, Any] = {
        "chain_id": chain_id,
        "seq": seq,
        # Microseconds are kept so that the hash input survives a round trip through either
        # database unchanged.
        "occurred_at": utcnow(),
        "actor_kind": actor.kind.value,
        "actor_id": actor.id,
        "actor_name": actor.name,
        "on_behalf_of": on_behalf_of or actor.on_behalf_of,
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "changes": dict(changes or {}),
        "request_id": context.request_id if context else None,
        "correlation_id": context.correlation_id if context else None,
        "trace_id": context.trace_id if context else None,
        "workflow_id": context.workflow_id if context else None,
        "workflow_step": context.workflow_step if context else None,
        "proposal_id": proposal_id or actor.proposal_id,
        "idempotency_key_hash": idempotency_key_hash or current_idempotency_key_hash(),
        "client_ip": context.client_ip if context else None,
        "user_agent": context.user_agent if context else None,
        "prev_hash": prev_hash,
    }
    event["hash"] = event_hash(event)
    await _INSERT_EVENT.run(session, [event])
    await _ADVANCE_HEAD.run(
        session, [{"chain": chain_id, "seq_now": seq, "hash_now": event["hash"]}]
    )


async def _advance_head(session: WritableSession, chain_id: str) -> tuple[int, str]:
    # The writer's own changes go to the database, and their rows are locked, first: the head
    # is always locked after the rows a writer changes.
    await session.flush()
    head = (await session.execute(_LOCKED_HEAD, {"chain": chain_id})).one_or_none()
    if head is None:
        session.add(AuditChainHead(chain_id=chain_id, last_seq=0, last_hash=GENESIS_HASH))
        # A workspace's chain starts with the event of its creation, in the transaction that
        # creates it, and the system chain is created by the migration: no two writers race here.
        await session.flush()
        return 1, GENESIS_HASH
    return head.last_seq + 1, head.last_hash


@dataclass(frozen=True, slots=True)
class ChainVerification:
    chain_id: str
    events: int
    ok: bool
    first_broken_seq: int | None = None
    reason: str | None = None


# Events are read in batches so that verifying a long chain runs in constant memory.
VERIFY_BATCH = 2000


async def _events_in_order(session: ReadOnlySession, chain_id: str) -> AsyncIterator[AuditEvent]:
    last_seq = 0
    while True:
        statement = (
            select(AuditEvent)
            .where(AuditEvent.chain_id == chain_id, AuditEvent.seq > last_seq)
            .order_by(AuditEvent.seq)
            .limit(VERIFY_BATCH)
        )
        batch = (await session.execute(statement)).scalars().all()
        if not batch:
            return
        for event in batch:
            yield event
        last_seq = batch[-1].seq
        session.expunge_all()


async def verify(session: ReadOnlySession, chain_id: str) -> ChainVerification:
    """Recompute the chain and name its first broken link: an edited event (its hash does not
    match its content), a deleted or reordered one (a gap in ``seq`` or a ``prev_hash`` that is
    not the previous event's hash), or a chain whose head does not match its last event.

    The head is read first and only events up to it are checked, so that events appended while
    a long chain is being verified are not mistaken for tampering."""
    head = await session.get(AuditChainHead, chain_id)
    last_seq = head.last_seq if head is not None else None
    expected_seq, expected_prev, count = 1, GENESIS_HASH, 0
    async for event in _events_in_order(session, chain_id):
        if last_seq is not None and event.seq > last_seq:
            break
        count += 1
        reason = None
        if event.seq != expected_seq:
            reason = f"event {expected_seq} is missing"
        elif event.prev_hash != expected_prev:
            reason = "its prev_hash is not the hash of the event before it"
        elif event_hash(event) != event.hash:
            reason = "its content does not match its hash"
        if reason is not None:
            broken = min(event.seq, expected_seq)
            return ChainVerification(chain_id, count, False, broken, reason)
        expected_seq, expected_prev = event.seq + 1, event.hash
    if head is not None and (head.last_seq != expected_seq - 1 or head.last_hash != expected_prev):
        return ChainVerification(
            chain_id, count, False, expected_seq, "events after this one were removed"
        )
    return ChainVerification(chain_id, count, True)
