"""Proposals: agents' change sets, their transitions and the notes they touch; workspace
proposal policies; note versions name the proposal and the approver they were made for.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 02:07:51.115143
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "proposal_policies",
        sa.Column("workspace_id", sa.String(length=26), nullable=False),
        sa.Column("auto_apply", sa.JSON(), nullable=False),
        sa.Column("require_distinct_approver", sa.Boolean(), nullable=False),
        sa.Column("proposal_ttl_hours", sa.Integer(), nullable=True),
        sa.Column("updated_by", sa.String(length=26), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_proposal_policies_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_proposal_policies")),
    )
    op.create_table(
        "proposals",
        sa.Column("workspace_id", sa.String(length=26), nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("submitted_by_kind", sa.String(length=16), nullable=False),
        sa.Column("submitted_by", sa.String(length=26), nullable=False),
        sa.Column("agent_id", sa.String(length=26), nullable=True),
        sa.Column("sponsor_id", sa.String(length=26), nullable=True),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.Column("operations", sa.JSON(), nullable=False),
        sa.Column("ops_schema_version", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("failure", sa.JSON(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("supersedes_id", sa.String(length=26), nullable=True),
        sa.Column("superseded_by_id", sa.String(length=26), nullable=True),
        sa.Column("decided_by", sa.String(length=26), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("correlation_id", sa.String(length=128), nullable=True),
        sa.Column("trace_id", sa.String(length=32), nullable=True),
        sa.Column("workflow_id", sa.String(length=128), nullable=True),
        sa.Column("workflow_step", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_proposals_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_proposals")),
    )
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_proposals_workspace_id_agent_id_created_at"),
            ["workspace_id", "agent_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_proposals_workspace_id_correlation_id"),
            ["workspace_id", "correlation_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_proposals_workspace_id_created_at_id"),
            ["workspace_id", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_proposals_workspace_id_state_created_at"),
            ["workspace_id", "state", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_proposals_workspace_id_workflow_id"),
            ["workspace_id", "workflow_id"],
            unique=False,
        )

    op.create_table(
        "proposal_notes",
        sa.Column("workspace_id", sa.String(length=26), nullable=False),
        sa.Column("proposal_id", sa.String(length=26), nullable=False),
        sa.Column("note_id", sa.String(length=26), nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id", "proposal_id"],
            ["proposals.workspace_id", "proposals.id"],
            name=op.f("fk_proposal_notes_workspace_id_proposals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "workspace_id", "proposal_id", "note_id", name=op.f("pk_proposal_notes")
        ),
    )
    with op.batch_alter_table("proposal_notes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_proposal_notes_workspace_id_note_id"),
            ["workspace_id", "note_id"],
            unique=False,
        )

    op.create_table(
        "proposal_transitions",
        sa.Column("workspace_id", sa.String(length=26), nullable=False),
        sa.Column("proposal_id", sa.String(length=26), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=26), nullable=False),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "proposal_id"],
            ["proposals.workspace_id", "proposals.id"],
            name=op.f("fk_proposal_transitions_workspace_id_proposals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "workspace_id", "proposal_id", "seq", name=op.f("pk_proposal_transitions")
        ),
    )
    with op.batch_alter_table("note_revisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("on_behalf_of", sa.String(length=26), nullable=True))
        batch_op.add_column(sa.Column("proposal_id", sa.String(length=26), nullable=True))
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_events_chain_id_proposal_id"), ["chain_id", "proposal_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_chain_id_proposal_id"))
    with op.batch_alter_table("note_revisions", schema=None) as batch_op:
        batch_op.drop_column("proposal_id")
        batch_op.drop_column("on_behalf_of")

    op.drop_table("proposal_transitions")
    with op.batch_alter_table("proposal_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_proposal_notes_workspace_id_note_id"))

    op.drop_table("proposal_notes")
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_proposals_workspace_id_workflow_id"))
        batch_op.drop_index(batch_op.f("ix_proposals_workspace_id_state_created_at"))
        batch_op.drop_index(batch_op.f("ix_proposals_workspace_id_created_at_id"))
        batch_op.drop_index(batch_op.f("ix_proposals_workspace_id_correlation_id"))
        batch_op.drop_index(batch_op.f("ix_proposals_workspace_id_agent_id_created_at"))

    op.drop_table("proposals")
    op.drop_table("proposal_policies")
