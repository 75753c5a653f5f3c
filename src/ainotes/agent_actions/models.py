"""Proposals: change sets that agents submit and people approve, with their history, and the
workspace policy that decides what may apply without a person."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, ForeignKeyConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ainotes.core.models import Base, id_column, utcnow
from ainotes.core.repository import WorkspaceScoped


class ProposalState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    APPLIED = "applied"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    STALE = "stale"
    SUPERSEDED = "superseded"
    FAILED = "failed"
    REVERTED = "reverted"


class Proposal(Base, WorkspaceScoped):
    """Immutable once submitted: only its state and the record of its decision change."""

    __tablename__ = "proposals"
    __table_args__ = (
        Index(None, "workspace_id", "created_at", "id"),
        Index(None, "workspace_id", "state", "created_at"),
        Index(None, "workspace_id", "agent_id", "created_at"),
        Index(None, "workspace_id", "workflow_id"),
        Index(None, "workspace_id", "correlation_id"),
    )

    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = id_column()
    state: Mapped[ProposalState] = mapped_column(String(16))
    # Who submitted it: an agent (agent_id set) or a person suggesting a change.
    submitted_by_kind: Mapped[str] = mapped_column(String(16))
    submitted_by: Mapped[str] = mapped_column(String(26))
    agent_id: Mapped[str | None] = mapped_column(String(26))
    # Who issued the agent's token, for workspaces that require another person to approve.
    sponsor_id: Mapped[str | None] = mapped_column(String(26))
    rationale: Mapped[str] = mapped_column(Text)
    operations: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    ops_schema_version: Mapped[int] = mapped_column()
    # What applying did, so that it can be reverted: versions before/after, created ids.
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # The problem that made it fail, or the conflicts that made it stale.
    failure: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    supersedes_id: Mapped[str | None] = mapped_column(String(26), default=None)
    superseded_by_id: Mapped[str | None] = mapped_column(String(26), default=None)
    decided_by: Mapped[str | None] = mapped_column(String(26), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    applied_at: Mapped[datetime | None] = mapped_column(default=None)
    # The submission's request and the agent workflow it belongs to.
    request_id: Mapped[str | None] = mapped_column(String(128))
    correlation_id: Mapped[str | None] = mapped_column(String(128))
    trace_id: Mapped[str | None] = mapped_column(String(32))
    workflow_id: Mapped[str | None] = mapped_column(String(128))
    workflow_step: Mapped[str | None] = mapped_column(String(128))


class ProposalNote(Base, WorkspaceScoped):
    """The notes a proposal reads or edits, and the version each edit was based on."""

    __tablename__ = "proposal_notes"
    __table_args__ = (
        ForeignKeyConstraint(
            ["workspace_id", "proposal_id"],
            ["proposals.workspace_id", "proposals.id"],
            ondelete="CASCADE",
        ),
        Index(None, "workspace_id", "note_id"),
    )

    workspace_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    proposal_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    note_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    base_version: Mapped[int | None] = mapped_column()


class ProposalTransition(Base, WorkspaceScoped):
    __tablename__ = "proposal_transitions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["workspace_id", "proposal_id"],
            ["proposals.workspace_id", "proposals.id"],
            ondelete="CASCADE",
        ),
    )

    workspace_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    proposal_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(26))
    actor_name: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(128))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProposalPolicy(Base):
    """A workspace's rules for proposals. Absent means the defaults: everything waits."""

    __tablename__ = "proposal_policies"

    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    auto_apply: Mapped[list[str]] = mapped_column(JSON, default=list)
    require_distinct_approver: Mapped[bool] = mapped_column(default=False)
    proposal_ttl_hours: Mapped[int | None] = mapped_column(default=None)
    updated_by: Mapped[str] = mapped_column(String(26))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
