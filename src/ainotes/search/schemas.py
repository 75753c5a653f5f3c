from datetime import datetime
from enum import StrEnum

from pydantic import Field

from ainotes.core.schemas import Schema


class DocType(StrEnum):
    NOTE = "note"
    TASK = "task"
    ARTIFACT = "artifact"


class SearchHit(Schema):
    type: DocType = Field(description="What was found; `id` is that kind of resource's id.")
    id: str
    note_id: str | None = Field(description="The note the hit is, or comes from.")
    title: str = Field(description="Plain text.")
    highlighted_title: str = Field(
        description="The title as HTML: matches in `<mark>`…`</mark>`, everything else escaped."
    )
    snippet: str = Field(
        description="An excerpt of the text around the matches, as HTML: matches in "
        "`<mark>`…`</mark>`, everything else escaped, `…` where text was cut."
    )
    tags: list[str]
    archived: bool
    updated_at: datetime
    score: float = Field(
        description="Relevance, higher is better. Comparable only within one result list."
    )


class SearchFilters(Schema):
    doc_types: list[DocType] = Field(default_factory=list)
    tag: str | None = None
    archived: bool | None = None
    updated_after: datetime | None = None
