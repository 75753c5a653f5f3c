"""Relationships between notes (wikilinks and manual relations) and note title keys.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "note_title_keys",
        sa.Column("workspace_id", sa.String(length=26), nullable=False),
        sa.Column("note_id", sa.String(length=26), nullable=False),
        sa.Column("title_key", sa.String(length=1000), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "note_id"],
            ["notes.workspace_id", "notes.id"],
            name=op.f("fk_note_title_keys_workspace_id_notes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "note_id", name=op.f("pk_note_title_keys")),
    )
    with op.batch_alter_table("note_title_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_note_title_keys_workspace_id_title_key_note_id"),
            ["workspace_id", "title_key", "note_id"],
            unique=False,
        )

    op.create_table(
        "relationships",
        sa.Column("workspace_id", sa.String(length=26), nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("source_note_id", sa.String(length=26), nullable=False),
        sa.Column("target_note_id", sa.String(length=26), nullable=True),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("target_title", sa.String(length=300), nullable=True),
        sa.Column("target_title_key", sa.String(length=1000), nullable=True),
        sa.Column("heading", sa.String(length=300), nullable=True),
        sa.Column("alias", sa.String(length=300), nullable=True),
        sa.Column("context", sa.Text(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=26), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("source IN ('body', 'manual')", name=op.f("ck_relationships_source")),
        sa.ForeignKeyConstraint(
            ["workspace_id", "source_note_id"],
            ["notes.workspace_id", "notes.id"],
            name="fk_relationships_source_note_id_notes",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "target_note_id"],
            ["notes.workspace_id", "notes.id"],
            name="fk_relationships_target_note_id_notes",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_relationships")),
    )
    with op.batch_alter_table("relationships", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_relationships_workspace_id_source_note_id_id"),
            ["workspace_id", "source_note_id", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_relationships_workspace_id_target_note_id_id"),
            ["workspace_id", "target_note_id", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_relationships_workspace_id_target_title_key"),
            ["workspace_id", "target_title_key"],
            unique=False,
        )
        batch_op.create_index(
            "uq_relationships_body_target",
            ["workspace_id", "source_note_id", "target_title_key"],
            unique=True,
            sqlite_where=sa.text("source = 'body'"),
            postgresql_where=sa.text("source = 'body'"),
        )
        batch_op.create_index(
            "uq_relationships_manual_target",
            ["workspace_id", "source_note_id", "target_note_id", "type"],
            unique=True,
            sqlite_where=sa.text("source = 'manual'"),
            postgresql_where=sa.text("source = 'manual'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("relationships", schema=None) as batch_op:
        batch_op.drop_index("uq_relationships_manual_target")
        batch_op.drop_index("uq_relationships_body_target")
        batch_op.drop_index(batch_op.f("ix_relationships_workspace_id_target_title_key"))
        batch_op.drop_index(batch_op.f("ix_relationships_workspace_id_target_note_id_id"))
        batch_op.drop_index(batch_op.f("ix_relationships_workspace_id_source_note_id_id"))

    op.drop_table("relationships")
    with op.batch_alter_table("note_title_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_note_title_keys_workspace_id_title_key_note_id"))

    op.drop_table("note_title_keys")
