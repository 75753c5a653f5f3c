"""Audit log: hash-chained events per workspace, and the head of each chain.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 23:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS_HASH = "0" * 64


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("chain_id", sa.String(length=26), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=26), nullable=False),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("on_behalf_of", sa.String(length=26), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_type", sa.String(length=32), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("correlation_id", sa.String(length=128), nullable=True),
        sa.Column("trace_id", sa.String(length=32), nullable=True),
        sa.Column("workflow_id", sa.String(length=128), nullable=True),
        sa.Column("workflow_step", sa.String(length=128), nullable=True),
        sa.Column("proposal_id", sa.String(length=26), nullable=True),
        sa.Column("idempotency_key_hash", sa.String(length=64), nullable=True),
        sa.Column("client_ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "seq", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        for columns in (
            ["chain_id", "occurred_at"],
            ["chain_id", "target_type", "target_id"],
            ["chain_id", "request_id"],
            ["chain_id", "correlation_id"],
            ["chain_id", "workflow_id"],
        ):
            batch_op.create_index(
                batch_op.f("ix_audit_events_" + "_".join(columns)), columns, unique=False
            )
    chain_heads = op.create_table(
        "audit_chain_heads",
        sa.Column("chain_id", sa.String(length=26), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", name=op.f("pk_audit_chain_heads")),
    )
    # The system chain exists from the start, so that no two first writers race to create it.
    op.bulk_insert(chain_heads, [{"chain_id": "system", "last_seq": 0, "last_hash": GENESIS_HASH}])


def downgrade() -> None:
    op.drop_table("audit_chain_heads")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        for columns in (
            ["chain_id", "workflow_id"],
            ["chain_id", "correlation_id"],
            ["chain_id", "request_id"],
            ["chain_id", "target_type", "target_id"],
            ["chain_id", "occurred_at"],
        ):
            batch_op.drop_index(batch_op.f("ix_audit_events_" + "_".join(columns)))
    op.drop_table("audit_events")
