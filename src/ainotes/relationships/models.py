"""Links between notes, and the case-folded title index wikilinks resolve through."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKeyConstraint, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from ainotes.core.models import Base, id_column, utcnow
from ainotes.core.repository import WorkspaceScoped

# Casefolding can lengthen a title (a 300-character title of "ß" folds to 600 characters).
TITLE_KEY_LENGTH = 1000

BODY = "body"
MANUAL = "manual"


class Relationship(Base, WorkspaceScoped):
    """A directed, typed edge from one note to another.

    ``source`` tells extracted wikilinks (``body``) from relations people made (``manual``).
    A body link whose title matches no live note is kept *unresolved*: ``target_note_id`` is
    null and ``target_title_key`` says what it waits for.
    """

    __tablename__ = "relationships"
    __table_args__ = (
        ForeignKeyConstraint(
            ["workspace_id", "source_note_id"],
            ["notes.workspace_id", "notes.id"],
            ondelete="CASCADE",
            name="fk_relationships_source_note_id_notes",
        ),
        ForeignKeyConstraint(
            ["workspace_id", "target_note_id"],
            ["notes.workspace_id", "notes.id"],
            ondelete="CASCADE",
            name="fk_relationships_target_note_id_notes",
        ),
        CheckConstraint(f"source IN ('{BODY}', '{MANUAL}')", name="source"),
        # Outgoing links and backlinks are listed (and cascaded) through these.
        Index(None, "workspace_id", "source_note_id", "id"),
        Index(None, "workspace_id", "target_note_id", "id"),
        # Creating or renaming a note finds the links waiting for its title through this.
        Index(None, "workspace_id", "target_title_key"),
        # One body link per target title per note, one manual relation per (target, type).
        Index(
            "uq_relationships_body_target",
            "workspace_id",
            "source_note_id",
            "target_title_key",
            unique=True,
            sqlite_where=text(f"source = '{BODY}'"),
            postgresql_where=text(f"source = '{BODY}'"),
        ),
        Index(
            "uq_relationships_manual_target",
            "workspace_id",
            "source_note_id",
            "target_note_id",
            "type",
            unique=True,
            sqlite_where=text(f"source = '{MANUAL}'"),
            postgresql_where=text(f"source = '{MANUAL}'"),
        ),
    )

    workspace_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    id: Mapped[str] = id_column()
    source_note_id: Mapped[str] = mapped_column(String(26))
    target_note_id: Mapped[str | None] = mapped_column(String(26))
    type: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))
    # Body links only: the title as written, its key, and the parts after '#' and '|'.
    target_title: Mapped[str | None] = mapped_column(String(300))
    target_title_key: Mapped[str | None] = mapped_column(String(TITLE_KEY_LENGTH))
    heading: Mapped[str | None] = mapped_column(String(300))
    alias: Mapped[str | None] = mapped_column(String(300))
    # Body links: the line the link is written in, shown with backlinks.
    context: Mapped[str | None] = mapped_column(Text)
    # Manual relations: what the person who made it wrote about it.
    comment: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(26))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NoteTitleKey(Base, WorkspaceScoped):
    """The case-folded title of every live (not trashed) note, kept from the note events.

    Resolving a body's links is one indexed ``IN`` query here. The notes table has no index on
    a folded title, and SQLite's ``lower()`` folds ASCII only.
    """

    __tablename__ = "note_title_keys"
    __table_args__ = (
        ForeignKeyConstraint(
            ["workspace_id", "note_id"],
            ["notes.workspace_id", "notes.id"],
            ondelete="CASCADE",
        ),
        Index(None, "workspace_id", "title_key", "note_id"),
    )

    workspace_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    note_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    title_key: Mapped[str] = mapped_column(String(TITLE_KEY_LENGTH))
