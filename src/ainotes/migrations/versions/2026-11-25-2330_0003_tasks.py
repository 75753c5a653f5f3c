"""Tasks extracted from note bodies, and their tag and assignee labels.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tasks",
        sa.Column("workspace_id", sa.String(length=26), nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("note_id", sa.String(length=26), nullable=False),
        sa.Column("note_version", sa.Integer(), nullable=False),
        sa.Column("is_note_trashed", sa.Boolean(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.String(length=26), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("due_rank", sa.Integer(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("assignees", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "note_id"],
            ["notes.workspace_id", "notes.id"],
            name=op.f("fk_tasks_workspace_id_notes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_tasks")),
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tasks_workspace_id_due_rank_id"),
            ["workspace_id", "due_rank", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_tasks_workspace_id_note_id_line"),
            ["workspace_id", "note_id", "line"],
            unique=False,
        )

    op.create_table(
        "task_labels",
        sa.Column("workspace_id", sa.String(length=26), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=100), nullable=False),
        sa.Column("task_id", sa.String(length=26), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "task_id"],
            ["tasks.workspace_id", "tasks.id"],
            name=op.f("fk_task_labels_workspace_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "workspace_id", "kind", "value", "task_id", name=op.f("pk_task_labels")
        ),
    )
    with op.batch_alter_table("task_labels", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_task_labels_workspace_id_task_id"),
            ["workspace_id", "task_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("task_labels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_labels_workspace_id_task_id"))

    op.drop_table("task_labels")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tasks_workspace_id_note_id_line"))
        batch_op.drop_index(batch_op.f("ix_tasks_workspace_id_due_rank_id"))

    op.drop_table("tasks")
