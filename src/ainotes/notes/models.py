from datetime import datetime

from sqlalchemy import JSON, ForeignKey, ForeignKeyConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ainotes.core.models import Base, Timestamped, id_column, utcnow
from ainotes.core.repository import WorkspaceScoped


class Note(Base, Timestamped, WorkspaceScoped):
    __tablename__ = "notes"
    __table_args__ = (
        # Keyset pagination runs on these: (workspace, sort column, id).
        Index(None, "workspace_id", "updated_at", "id"),
        Index(None, "workspace_id", "created_at", "id"),
    )

    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = id_column()
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    # Kept on the row for reading; note_tags holds the same tags for filtering.
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    pinned: Mapped[bool] = mapped_column(default=False)
    archived: Mapped[bool] = mapped_column(default=False)
    version: Mapped[int] = mapped_column(default=1)
    created_by: Mapped[str] = mapped_column(String(26))
    updated_by: Mapped[str] = mapped_column(String(26))
    trashed_at: Mapped[datetime | None] = mapped_column(default=None)

    # SQLAlchemy adds "AND version = :old" to every UPDATE and raises StaleDataError on 0 rows,
    # so that the optimistic check holds in the database, not only in Python.
    __mapper_args__ = {"version_id_col": version}


class NoteTag(Base, WorkspaceScoped):
    __tablename__ = "note_tags"
    __table_args__ = (
        ForeignKeyConstraint(
            ["workspace_id", "note_id"],
            ["notes.workspace_id", "notes.id"],
            ondelete="CASCADE",
        ),
        Index(None, "workspace_id", "note_id"),
    )

    workspace_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    tag: Mapped[str] = mapped_column(String(64), primary_key=True)
    note_id: Mapped[str] = mapped_column(String(26), primary_key=True)


class NoteRevision(Base, WorkspaceScoped):
    """The note as it was at one version; every version of every note has one."""

    __tablename__ = "note_revisions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["workspace_id", "note_id"],
            ["notes.workspace_id", "notes.id"],
            ondelete="CASCADE",
        ),
    )

    workspace_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    note_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    pinned: Mapped[bool] = mapped_column(default=False)
    archived: Mapped[bool] = mapped_column(default=False)
    trashed: Mapped[bool] = mapped_column(default=False)
    # What made this version: create, update, trash, restore, revision_restore.
    change: Mapped[str] = mapped_column(String(32))
    # True when the write was made without If-Match (last write wins).
    unconditional: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[str] = mapped_column(String(26))
    # For versions an agent made through a proposal: who approved it, and which proposal.
    on_behalf_of: Mapped[str | None] = mapped_column(String(26), default=None)
    proposal_id: Mapped[str | None] = mapped_column(String(26), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
