"""Artifacts and the note versions they were made from.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "artifacts",
        sa.Column("workspace_id", sa.String(length=26), nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("generator", sa.String(length=200), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=26), nullable=False),
        sa.Column("updated_by", sa.String(length=26), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_artifacts_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_artifacts")),
    )
    with op.batch_alter_table("artifacts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_artifacts_workspace_id_kind_id"),
            ["workspace_id", "kind", "id"],
            unique=False,
        )

    op.create_table(
        "artifact_sources",
        sa.Column("workspace_id", sa.String(length=26), nullable=False),
        sa.Column("artifact_id", sa.String(length=26), nullable=False),
        sa.Column("note_id", sa.String(length=26), nullable=False),
        sa.Column("note_version", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "artifact_id"],
            ["artifacts.workspace_id", "artifacts.id"],
            name=op.f("fk_artifact_sources_workspace_id_artifacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "workspace_id", "artifact_id", "note_id", name=op.f("pk_artifact_sources")
        ),
    )
    with op.batch_alter_table("artifact_sources", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_artifact_sources_workspace_id_note_id"),
            ["workspace_id", "note_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("artifact_sources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_artifact_sources_workspace_id_note_id"))
    op.drop_table("artifact_sources")
    with op.batch_alter_table("artifacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_artifacts_workspace_id_kind_id"))
    op.drop_table("artifacts")
