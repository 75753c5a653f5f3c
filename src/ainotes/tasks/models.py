"""Tasks extracted from note bodies, and their tags and assignees for filtering."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKeyConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ainotes.core.models import Base, id_column, utcnow
from ainotes.core.repository import WorkspaceScoped

# Sorts after every real date (date.max is 9999-12-31), so tasks without a due date list last
# and the due ordering stays a plain NOT NULL column that keyset cursors can compare.
NO_DUE_RANK = date.max.toordinal() + 1


class TaskStatus(StrEnum):
    OPEN = "open"
    DONE = "done"


class LabelKind(StrEnum):
    TAG = "tag"
    ASSIGNEE = "assignee"


class Task(Base, WorkspaceScoped):
    """One task item of a note, kept in step with the note's body on every write."""

    __tablename__ = "tasks"
    __table_args__ = (
        ForeignKeyConstraint(
            ["workspace_id", "note_id"],
            ["notes.workspace_id", "notes.id"],
            ondelete="CASCADE",
        ),
        # The workspace task list pages on (due_rank, id).
        Index(None, "workspace_id", "due_rank", "id"),
        # A note's tasks, in reading order; also what every note write re-syncs.
        Index(None, "workspace_id", "note_id", "line"),
    )

    workspace_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    id: Mapped[str] = id_column()
    note_id: Mapped[str] = mapped_column(String(26))
    # The note version the task was last synced from: the task's ETag.
    note_version: Mapped[int]
    # Tasks of a trashed note stay (so that restoring keeps their ids) but leave the task list.
    is_note_trashed: Mapped[bool] = mapped_column(default=False)
    line: Mapped[int]
    level: Mapped[int]
    # The enclosing task item in the same note; no foreign key, the sync rewrites it each time.
    parent_id: Mapped[str | None] = mapped_column(String(26), default=None)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[TaskStatus] = mapped_column(String(8))
    due_on: Mapped[date | None] = mapped_column(default=None)
    due_rank: Mapped[int] = mapped_column(default=NO_DUE_RANK)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    assignees: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when the task itself changes, not when only the note around it does.
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class TaskLabel(Base, WorkspaceScoped):
    """A tag or assignee of a task; the primary key is the filter index."""

    __tablename__ = "task_labels"
    __table_args__ = (
        ForeignKeyConstraint(
            ["workspace_id", "task_id"],
            ["tasks.workspace_id", "tasks.id"],
            ondelete="CASCADE",
        ),
        Index(None, "workspace_id", "task_id"),
    )

    workspace_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    kind: Mapped[LabelKind] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(100), primary_key=True)
    task_id: Mapped[str] = mapped_column(String(26), primary_key=True)
