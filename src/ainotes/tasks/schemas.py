from datetime import date, datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from ainotes.core.schemas import Schema
from ainotes.tasks.models import TaskStatus

# One line of markdown: a newline would split the task into two lines of the note.
TaskText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=2000, pattern=r"^[^\r\n]*$"),
]


class TaskRead(Schema):
    id: str
    note_id: str
    note_version: int = Field(
        description="The version of the note the task lives in; also the task's ETag."
    )
    line: int = Field(description="1-based line of the task item in the note body.")
    level: int = Field(description="0 for a top-level item, 1 when nested once, and so on.")
    parent_id: str | None = Field(description="The enclosing task item, if any.")
    text: str = Field(description="The item's text, without its due-date token.")
    status: TaskStatus
    due: date | None = Field(validation_alias="due_on")
    tags: list[str]
    assignees: list[str]
    created_at: datetime
    updated_at: datetime


class TaskUpdate(Schema):
    """Written back into the note's markdown line; fields left out stay as they are."""

    status: TaskStatus | None = None
    text: TaskText | None = Field(
        default=None,
        description="Replaces the item's text. The due date is kept unless the new text writes "
        "one; tags and @mentions are words of the text, so the new text decides them.",
    )


class TaskFilters(Schema):
    status: TaskStatus | None = None
    # Both exclusive, like ``updated_after`` on notes; tasks without a due date match neither.
    due_before: date | None = None
    due_after: date | None = None
    tag: str | None = None
    assignee: str | None = None
    note_id: str | None = None
