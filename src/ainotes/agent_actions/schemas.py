from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from ainotes.core.schemas import Schema


class AuditOrder(StrEnum):
    ASC = "asc"
    DESC = "desc"


class AuditFilters(Schema):
    """Each filter given narrows the listing; ``since`` is inclusive, ``until`` exclusive."""

    actor_id: str | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    request_id: str | None = None
    correlation_id: str | None = None
    workflow_id: str | None = None


class AuditEventRead(Schema):
    workspace_id: str = Field(validation_alias="chain_id")
    seq: int = Field(description="Position in the workspace's chain: 1, 2, 3, … without gaps.")
    occurred_at: datetime
    actor_kind: str = Field(description="user, agent or system.")
    actor_id: str
    actor_name: str = Field(description="The actor's name when the event was recorded.")
    on_behalf_of: str | None
    action: str = Field(description="`resource.verb`, e.g. `note.updated`.")
    target_type: str
    target_id: str
    changes: dict[str, Any] = Field(
        description="Changed fields: `{before, after}` for small values, "
        "`{before_digest, after_digest}` (SHA-256) for text and lists."
    )
    request_id: str | None
    correlation_id: str | None
    trace_id: str | None
    workflow_id: str | None
    workflow_step: str | None
    proposal_id: str | None
    idempotency_key_hash: str | None
    client_ip: str | None
    user_agent: str | None
    prev_hash: str
    hash: str


class AuditVerificationRead(Schema):
    ok: bool
    events: int = Field(description="How many events were checked.")
    first_broken_seq: int | None = Field(
        description="The first event that is edited, missing or out of order; null when ok."
    )
    reason: str | None
