"""Idempotent writes: ``Idempotency-Key`` on POST, PUT, PATCH and DELETE.

Semantics follow Stripe and the IETF Idempotency-Key draft. Keys are scoped to the principal.
The same key with the same request returns the first response again (``Idempotent-Replayed:
true``) and performs nothing twice; with a different request it is a 422; while the first is
still running, a 409. Only successful (2xx) outcomes are stored, and they are stored **in the
same transaction as the effect**, so a crash between effect and response can never let a retry
apply the change twice; a request that failed leaves the key free for a corrected retry.

The flow: (1) a short transaction claims the key (visible to other workers, so that a second
request sees "in flight"); (2) the route runs in the request's own transaction, and before
that transaction commits, the claim is completed with the response, guarded by the claim's
random lock token, so that a retry that took over a stale claim and the original cannot both
commit; (3) on failure, a third short transaction releases the claim.
"""

import hashlib
import json
import secrets
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from fastapi import Request, Response
from fastapi.params import Form
from fastapi.routing import APIRoute
from sqlalchemy import JSON, LargeBinary, String, delete, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.dml import ReturningInsert

from ainotes.core.context import set_idempotency_key_hash
from ainotes.core.db import Database, WritableSession, after_request
from ainotes.core.errors import (
    BadRequest,
    Conflict,
    ProblemError,
    UnsupportedMediaType,
    also_document,
    problem_responses,
)
from ainotes.core.models import Base, utcnow
from ainotes.core.principal import Principal

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_KEY_LENGTH = 255
# Response headers a replay repeats; never cookies, credentials or hop-by-hop headers.
_REPLAYED_RESPONSE_HEADERS = ("content-type", "location", "etag")
IN_PROGRESS = "in_progress"
COMPLETED = "completed"


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"

    principal_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    # SHA-256 of the key: keys are client secrets of a kind and are never stored or logged raw.
    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(16))
    lock_token: Mapped[str | None] = mapped_column(String(32))
    locked_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    response_status: Mapped[int | None] = mapped_column()
    response_headers: Mapped[dict[str, str] | None] = mapped_column(JSON)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)


class IdempotencyKeyInvalid(BadRequest):
    slug = "idempotency-key-invalid"
    title = "Invalid Idempotency-Key"


class IdempotencyKeyMissing(BadRequest):
    slug = "idempotency-key-missing"
    title = "Idempotency-Key required"


class IdempotencyKeyReused(ProblemError):
    slug = "idempotency-key-reused"
    status = 422
    title = "Idempotency-Key reused for another request"


class IdempotencyKeyInFlight(Conflict):
    slug = "idempotency-key-in-flight"
    title = "A request with this Idempotency-Key is in progress"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"Retry-After": "1"})


IDEMPOTENCY_PROBLEMS: tuple[type[ProblemError], ...] = (
    IdempotencyKeyInvalid,
    IdempotencyKeyMissing,
    IdempotencyKeyReused,
    IdempotencyKeyInFlight,
)


class PrincipalResolver(Protocol):
    def __call__(self, request: Request, fresh: bool = False) -> Awaitable[Principal | None]: ...


@dataclass
class IdempotencyConfig:
    database: Database
    # Returns the request's principal, or None when it is not authenticated (the route then
    # answers 401 itself). Wired by the application factory: core does not know about auth.
    resolve_principal: PrincipalResolver
    ttl: timedelta
    lock_timeout: timedelta
    # Whether a request must carry a key (agents' writes), judged from the request alone so
    # that writes without a key cost no extra query.
    requires_key: Callable[[Request], bool]


def parse_key(values: list[str]) -> str:
    """The key from its header: an RFC 8941 sf-string (``"abc"``) or the bare token form."""
    if len(values) != 1:
        raise IdempotencyKeyInvalid(f"Send exactly one {HEADER} header.")
    key = values[0].strip()
    if len(key) >= 2 and key.startswith('"') and key.endswith('"'):
        key = key[1:-1]
    if not 1 <= len(key) <= MAX_KEY_LENGTH or any(not 0x21 <= ord(c) <= 0x7E for c in key):
        raise IdempotencyKeyInvalid(
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters, e.g. a UUID."
        )
    return key


def _hash(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def fingerprint(request: Request, body: bytes) -> str:
    """What makes two requests "the same": method, path, sorted query, If-Match, and the body
    (canonical JSON when it is JSON, so that key order and whitespace do not matter)."""
    try:
        canonical: bytes = json.dumps(
            json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = body
    query = "&".join(sorted(request.url.query.split("&"))) if request.url.query else ""
    return _hash(
        request.method,
        request.url.path,
        query,
        request.headers.get("if-match", ""),
        canonical,
    )


async def _fingerprinted_body(request: Request) -> bytes:
    """The body for the fingerprint. File uploads stream to storage and are never read whole
    into memory here: their declared length, type and name stand in for their bytes."""
    content_type = request.headers.get("content-type", "application/json")
    media_type = content_type.split(";")[0].strip().lower()
    if media_type.endswith("json"):
        return await request.body()
    if media_type == "multipart/form-data":
        # Clients draw a new boundary for every request, retries included, and the length
        # follows it: only the kind of body is comparable without reading the file.
        return media_type.encode()
    return "\n".join(
        request.headers.get(name, "")
        for name in ("content-length", "content-type", "content-disposition")
    ).encode()


def _replay(record: IdempotencyRecord) -> Response:
    headers = dict(record.response_headers or {})
    headers[REPLAYED_HEADER] = "true"
    return Response(
        content=record.response_body or b"",
        status_code=record.response_status or 200,
        headers=headers,
    )


# One claim in this many also deletes its principal's expired keys.
CLEANUP_EVERY = 32


async def _remove_expired(session: WritableSession, principal_id: str, now: datetime) -> None:
    await session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.principal_id == principal_id,
            IdempotencyRecord.expires_at <= now,
        )
    )


@dataclass(frozen=True)
class _Claim:
    principal_id: str
    key_hash: str
    lock_token: str


def _decide(
    config: IdempotencyConfig, record: IdempotencyRecord, request_fingerprint: str
) -> Response | None:
    now = utcnow()
    if record.expires_at <= now:
        return None
    if record.fingerprint != request_fingerprint:
        raise IdempotencyKeyReused(
            f"This {HEADER} was used for another request ({record.method} {record.path}); "
            "use a new key for a different request.",
            original_method=record.method,
            original_path=record.path,
        )
    if record.status == COMPLETED:
        return _replay(record)
    if record.locked_at is not None and record.locked_at > now - config.lock_timeout:
        raise IdempotencyKeyInFlight(
            f"A request with this {HEADER} is still in progress; retry shortly."
        )
    return None


async def _claim(
    config: IdempotencyConfig,
    principal_id: str,
    key_hash: str,
    request: Request,
    request_fingerprint: str,
) -> _Claim | Response:
    lock_token = secrets.token_hex(16)
    now = utcnow()
    fresh = {
        "principal_id": principal_id,
        "key_hash": key_hash,
        "fingerprint": request_fingerprint,
        "method": request.method,
        "path": request.url.path,
        "status": IN_PROGRESS,
        "lock_token": lock_token,
        "locked_at": now,
        "created_at": now,
        "expires_at": now + config.ttl,
    }
    claim = _Claim(principal_id, key_hash, lock_token)
    cleanup = secrets.randbelow(CLEANUP_EVERY) == 0
    if not cleanup and await _claim_new_key_alone(config.database, fresh):
        return claim
    try:
        async with config.database.write_session() as session:
            # Now and then a claim also removes its principal's expired keys, so that the key
            # space stays bounded without a statement more on every write. An expired key
            # found below is taken over as new anyway.
            if cleanup:
                await _remove_expired(session, principal_id, now)
            # A new key, the usual case, is one statement; only a key seen before is read.
            if await _insert_if_absent(session, fresh):
                return claim
            statement = (
                select(IdempotencyRecord)
                .where(
                    IdempotencyRecord.principal_id == principal_id,
                    IdempotencyRecord.key_hash == key_hash,
                )
                .with_for_update()
            )
            record = (await session.execute(statement)).scalar_one_or_none()
            if record is None or record.expires_at <= now:
                # Released (a failed request) or expired since: the key is new again.
                if record is not None:
                    await session.delete(record)
                    await session.flush()
                session.add(IdempotencyRecord(**fresh))
            else:
                outcome = _decide(config, record, request_fingerprint)
                if outcome is not None:
                    return outcome
                # A claim abandoned by a crashed request: take it over.
                record.lock_token, record.locked_at = lock_token, now
            await session.flush()
    except IntegrityError:
        # Another request inserted the same key between our read and our insert.
        raise IdempotencyKeyInFlight(
            f"A request with this {HEADER} is still in progress; retry shortly."
        ) from None
    return claim


async def _claim_new_key_alone(database: Database, values: dict[str, Any]) -> bool:
    """On PostgreSQL, claim a new key with one autocommitted statement: it needs no
    transaction around it, and BEGIN and COMMIT would be two more round trips on every
    keyed write. SQLite's writers queue on the write session's lock, so it takes that path."""
    if database.is_sqlite:
        return False
    async with database.write_engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        result = await autocommit.execute(_insert_statement("postgresql", values))
        return result.first() is not None


async def _insert_if_absent(session: WritableSession, values: dict[str, Any]) -> bool:
    """Insert the key unless it exists (both databases: INSERT … ON CONFLICT DO NOTHING);
    whether it was inserted. On PostgreSQL a concurrent insert of the same key makes this wait
    for that transaction, and then find the key."""
    statement = _insert_statement(session.get_bind().dialect.name, values)
    return (await session.execute(statement)).first() is not None


def _insert_statement(dialect: str, values: dict[str, Any]) -> ReturningInsert[tuple[str]]:
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    return (
        insert(IdempotencyRecord)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["principal_id", "key_hash"])
        .returning(IdempotencyRecord.key_hash)
    )


async def _complete(
    config: IdempotencyConfig, session: WritableSession, claim: _Claim, response: Response
) -> None:
    body = getattr(response, "body", None)
    if not isinstance(body, bytes):
        raise IdempotencyKeyInvalid("This response cannot be stored for replay.")
    headers = {
        name: response.headers[name]
        for name in _REPLAYED_RESPONSE_HEADERS
        if name in response.headers
    }
    now = utcnow()
    result = await session.execute(
        update(IdempotencyRecord)
        .where(
            IdempotencyRecord.principal_id == claim.principal_id,
            IdempotencyRecord.key_hash == claim.key_hash,
            IdempotencyRecord.lock_token == claim.lock_token,
            IdempotencyRecord.status == IN_PROGRESS,
        )
        .values(
            status=COMPLETED,
            lock_token=None,
            locked_at=None,
            response_status=response.status_code,
            response_headers=headers,
            response_body=body,
            expires_at=now + config.ttl,
        )
    )
    if getattr(result, "rowcount", 0) != 1:
        # A retry took the claim over after our lock timed out; it owns the key now, and our
        # effect must not commit beside its own.
        raise IdempotencyKeyInFlight(
            f"This request outlived its claim on the {HEADER}; its effect was rolled back."
        )


def _release_after_request(request: Request, config: IdempotencyConfig, claim: _Claim) -> None:
    # The request's transaction (and on SQLite its write lock) is still open here; the
    # release is a transaction of its own, so it runs once that one has ended.
    after_request(request, lambda: _release(config, claim))


async def _release(config: IdempotencyConfig, claim: _Claim) -> None:
    async with config.database.write_session() as session:
        await session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.principal_id == claim.principal_id,
                IdempotencyRecord.key_hash == claim.key_hash,
                IdempotencyRecord.lock_token == claim.lock_token,
            )
        )


def key_hash_for(principal_id: str, key: str) -> str:
    return _hash(principal_id, key)


async def run_idempotently(
    request: Request, handler: Callable[[Request], Awaitable[Response]]
) -> Response:
    config: IdempotencyConfig = request.app.state.idempotency
    values = request.headers.getlist(HEADER)
    if not values:
        if config.requires_key(request):
            raise IdempotencyKeyMissing(
                f"Writes by agents must carry an {HEADER} header (e.g. a UUID), "
                "so that a retry never applies a change twice."
            )
        return await handler(request)
    key = parse_key(values)
    principal = await config.resolve_principal(request)
    if principal is None:
        return await handler(request)
    key_hash = key_hash_for(principal.id, key)
    request_fingerprint = fingerprint(request, await _fingerprinted_body(request))
    claimed = await _claim(config, principal.id, key_hash, request, request_fingerprint)
    if isinstance(claimed, Response):
        # A replay runs no route, so nothing else checks that the token is still good.
        if await config.resolve_principal(request, fresh=True) is None:
            return await handler(request)
        return claimed
    set_idempotency_key_hash(key_hash)
    try:
        response = await handler(request)
        session: WritableSession | None = getattr(request.state, "write_session", None)
        if not 200 <= response.status_code < 300 or session is None:
            _release_after_request(request, config, claimed)
            return response
        await _complete(config, session, claimed, response)
    except BaseException:
        _release_after_request(request, config, claimed)
        raise
    finally:
        set_idempotency_key_hash(None)
    response.headers[REPLAYED_HEADER] = "false"
    return response


class IdempotentRoute(APIRoute):
    """Runs mutating routes through ``run_idempotently``. A route class rather than middleware
    because the key must be completed inside the route's own transaction, which middleware
    cannot reach; the handler here runs before that transaction commits."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        methods = {method.upper() for method in kwargs.get("methods") or ()}
        if methods & MUTATING_METHODS:
            # Document the header and its problems on every write (the draft says a resource
            # MUST publish its idempotency behaviour).
            responses = dict(kwargs.get("responses") or {})
            for status, doc in problem_responses(*IDEMPOTENCY_PROBLEMS).items():
                responses.setdefault(status, doc)
            kwargs["responses"] = responses
            extra = dict(kwargs.get("openapi_extra") or {})
            extra["parameters"] = [*extra.get("parameters", []), openapi_parameter()]
            kwargs["openapi_extra"] = extra
        super().__init__(path, endpoint, **kwargs)
        if self.body_field is not None and not isinstance(self.body_field.field_info, Form):
            # A JSON body sent as anything else (core/errors.py, _handle_validation).
            also_document(self.responses, UnsupportedMediaType)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if not (self.methods or set()) & MUTATING_METHODS:
            return handler

        async def idempotent_handler(request: Request) -> Response:
            return await run_idempotently(request, handler)

        return idempotent_handler


def openapi_parameter() -> dict[str, Any]:
    return {
        "name": HEADER,
        "in": "header",
        "required": False,
        "description": (
            "Makes the write safe to retry: the same key with the same request returns the "
            "first response again (Idempotent-Replayed: true) without repeating the effect. "
            "Keys are scoped to the caller and kept 24 hours. Only successful responses are "
            "stored; after an error the key is free for a corrected retry. Required for agents."
        ),
        "schema": {"type": "string", "maxLength": MAX_KEY_LENGTH},
    }
