"""ORM models of the artifacts module."""

from typing import Any

from sqlalchemy import JSON, ForeignKey, ForeignKeyConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ainotes.core.models import Base, Timestamped, id_column
from ainotes.core.repository import WorkspaceScoped


class Artifact(Base, Timestamped, WorkspaceScoped):
    """Something an AI derived from notes: a summary, flashcards, a quiz, ..."""

    __tablename__ = "artifacts"
    __table_args__ = (
        # Listings page by id (ULIDs sort by creation time): the primary key serves the
        # unfiltered listing, this index the one filtered by kind.
        Index(None, "workspace_id", "kind", "id"),
    )

    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = id_column()
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(300))
    # Validated against the kind's schema on every write (artifacts/schemas.py).
    content: Mapped[Any] = mapped_column(JSON)
    generator: Mapped[str] = mapped_column(String(200))
    model: Mapped[str | None] = mapped_column(String(200), default=None)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    version: Mapped[int] = mapped_column(default=1)
    created_by: Mapped[str] = mapped_column(String(26))
    updated_by: Mapped[str] = mapped_column(String(26))

    # The optimistic check lives in the UPDATE itself (AND version = :old), as on notes.
    __mapper_args__ = {"version_id_col": version}


class ArtifactSource(Base, WorkspaceScoped):
    """A note an artifact was made from, at the version it was made from.

    ``note_id`` deliberately has no foreign key to notes: a cascade would erase the record when
    the note is purged (and the artifact would silently stop being stale), and SET NULL cannot
    null half of the composite key portably. A missing note reads as "purged".
    """

    __tablename__ = "artifact_sources"
    __table_args__ = (
        ForeignKeyConstraint(
            ["workspace_id", "artifact_id"],
            ["artifacts.workspace_id", "artifacts.id"],
            ondelete="CASCADE",
        ),
        # The source_note_id filter, and "which artifacts come from this note".
        Index(None, "workspace_id", "note_id"),
    )

    workspace_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    artifact_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    note_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    note_version: Mapped[int]
    # Keeps the sources in the order the client gave them.
    position: Mapped[int]
