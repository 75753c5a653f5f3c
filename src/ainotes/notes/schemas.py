import re
import unicodedata
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from ainotes.core.schemas import Schema

MAX_TAGS = 50
MAX_TAG_LENGTH = 64
_TAG_SEPARATORS = re.compile(r"[\s_]+")
_TAG_ALLOWED = re.compile(r"^[\w/-]+$")


def normalize_tag(raw: str) -> str:
    """``"  #Machine Learning "`` → ``"machine-learning"``: NFC, lower case, no leading '#',
    runs of spaces or underscores become one hyphen."""
    tag = unicodedata.normalize("NFC", raw).strip().lstrip("#").strip().lower()
    tag = _TAG_SEPARATORS.sub("-", tag).strip("-")
    if not tag:
        raise ValueError("a tag must not be empty")
    if len(tag) > MAX_TAG_LENGTH:
        raise ValueError(f"a tag has at most {MAX_TAG_LENGTH} characters")
    if not _TAG_ALLOWED.match(tag):
        raise ValueError("a tag holds letters, digits, '-', '_' and '/' only")
    return tag


def normalize_tags(raw: list[str]) -> list[str]:
    tags = list(dict.fromkeys(normalize_tag(tag) for tag in raw))
    if len(tags) > MAX_TAGS:
        raise ValueError(f"a note has at most {MAX_TAGS} tags")
    return tags


Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Tags = Annotated[
    list[Annotated[str, StringConstraints(max_length=200)]],
    Field(max_length=200),
    AfterValidator(normalize_tags),
]


class NoteCreate(Schema):
    title: Title
    body: str = ""
    tags: Tags = Field(default_factory=list)
    pinned: bool = False
    archived: bool = False


class NoteUpdate(Schema):
    """Fields left out stay as they are."""

    title: Title | None = None
    body: str | None = None
    tags: Tags | None = None
    pinned: bool | None = None
    archived: bool | None = None


class NoteRead(Schema):
    id: str
    workspace_id: str
    title: str
    body: str
    tags: list[str]
    pinned: bool
    archived: bool
    version: int
    created_by: str
    updated_by: str
    created_at: datetime
    updated_at: datetime
    trashed_at: datetime | None


class AttachmentRef(Schema):
    """An attachment the note's body references (``![](attachment:{id})`` and the like)."""

    id: str
    filename: str
    content_type: str
    size: int


class NoteDetail(NoteRead):
    """One note as ``GET …/notes/{id}`` returns it."""

    attachments: list[AttachmentRef] = Field(
        description="The workspace's attachments the body references, in order of first "
        "mention; references to attachments that do not exist are left out."
    )


class NoteSummary(Schema):
    """A note in a listing: everything but the body."""

    id: str
    title: str
    tags: list[str]
    pinned: bool
    archived: bool
    version: int
    created_by: str
    updated_by: str
    created_at: datetime
    updated_at: datetime
    trashed_at: datetime | None


class RevisionRead(Schema):
    note_id: str
    version: int
    title: str
    body: str
    tags: list[str]
    pinned: bool
    archived: bool
    trashed: bool
    change: str
    unconditional: bool
    created_by: str
    on_behalf_of: str | None = Field(
        description="For a version an agent made through a proposal: who approved it."
    )
    proposal_id: str | None = Field(description="The proposal that made this version, if any.")
    created_at: datetime


class RevisionSummary(Schema):
    version: int
    title: str
    change: str
    unconditional: bool
    created_by: str
    on_behalf_of: str | None = Field(
        description="For a version an agent made through a proposal: who approved it."
    )
    proposal_id: str | None = Field(description="The proposal that made this version, if any.")
    created_at: datetime


class NoteSort(StrEnum):
    UPDATED_AT = "updated_at"
    CREATED_AT = "created_at"


class SortOrder(StrEnum):
    ASC = "asc"
    DESC = "desc"


class NoteFilters(Schema):
    tag: str | None = None
    pinned: bool | None = None
    archived: bool | None = None
    updated_after: datetime | None = None
    trashed: bool = False
