from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from ainotes.auth.schemas import Scope, TokenName
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
    actor_kind: str | None = None
    proposal_id: str | None = None


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


AgentName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class AgentCreate(Schema):
    name: AgentName
    description: str = Field(default="", max_length=2000)


class AgentUpdate(Schema):
    name: AgentName | None = None
    description: str | None = Field(default=None, max_length=2000)
    disabled: bool | None = Field(
        default=None,
        description="true disables the agent: its tokens stop working at once. "
        "Its pending proposals stay reviewable.",
    )


class AgentRead(Schema):
    id: str
    workspace_id: str
    name: str
    description: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    disabled_at: datetime | None


class AgentTokenCreate(Schema):
    name: TokenName
    scopes: list[Scope] = Field(
        min_length=1,
        description="What the token may do. Read scopes open an API section; "
        "`proposals:write` lets the agent submit, withdraw and rebase proposals.",
    )
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class AgentTokenRead(Schema):
    id: str
    agent_id: str
    name: str
    token_prefix: str
    scopes: list[str]
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class AgentTokenCreated(AgentTokenRead):
    token: str = Field(description="The secret. It is shown only in this response.")
