"""Artifact bodies: one validated content schema per kind, chosen by the ``kind`` discriminator."""

import json
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    Field,
    JsonValue,
    StringConstraints,
    TypeAdapter,
    model_validator,
)

from ainotes.core.ids import Id
from ainotes.core.schemas import Schema, StoredJsonSchema

# A source list this long is already more than one prompt can hold; it also bounds the
# per-source lookups made when an artifact is written.
MAX_SOURCES = 50
# Bounds for the free-form parts, so that one artifact cannot grow without limit inside the
# request-body limit (custom content and parameters are stored as JSON as given).
MAX_CUSTOM_CONTENT_BYTES = 64 * 1024
MAX_PARAMETERS_BYTES = 16 * 1024
MAX_OUTLINE_DEPTH = 8
MAX_OUTLINE_ITEMS = 2000


class ArtifactKind(StrEnum):
    SUMMARY = "summary"
    FLASHCARDS = "flashcards"
    QUIZ = "quiz"
    OUTLINE = "outline"
    GLOSSARY = "glossary"
    CUSTOM = "custom"


Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]


def _json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def _bounded(limit: int) -> Any:
    def check(value: dict[str, JsonValue]) -> dict[str, JsonValue]:
        size = _json_size(value)
        if size > limit:
            raise ValueError(f"is {size} bytes as JSON; at most {limit} are allowed")
        return value

    return AfterValidator(check)


# --- content of each kind ---------------------------------------------------------------


class SummaryContent(Schema):
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100_000)]


class Flashcard(Schema):
    front: ShortText
    back: LongText


class FlashcardsContent(Schema):
    cards: list[Flashcard] = Field(min_length=1, max_length=1000)


class QuizQuestion(Schema):
    prompt: LongText
    choices: list[ShortText] = Field(min_length=2, max_length=10)
    answer: int = Field(ge=0, description="Index into `choices` of the correct answer.")
    explanation: LongText | None = None

    @model_validator(mode="after")
    def _answer_is_a_choice(self) -> Self:
        if self.answer >= len(self.choices):
            raise ValueError(
                f"answer {self.answer} is not an index of the {len(self.choices)} choices"
            )
        return self


class QuizContent(Schema):
    questions: list[QuizQuestion] = Field(min_length=1, max_length=500)


class OutlineItem(Schema):
    text: ShortText
    children: list["OutlineItem"] = Field(default_factory=list, max_length=MAX_OUTLINE_ITEMS)


class OutlineContent(Schema):
    items: list[OutlineItem] = Field(min_length=1, max_length=MAX_OUTLINE_ITEMS)

    @model_validator(mode="after")
    def _bounded_tree(self) -> Self:
        # Depth and total size are checked on the whole tree: per-level limits alone would
        # still allow MAX_OUTLINE_ITEMS ** depth items.
        count = 0
        stack = [(item, 1) for item in self.items]
        while stack:
            item, depth = stack.pop()
            count += 1
            if depth > MAX_OUTLINE_DEPTH:
                raise ValueError(f"an outline is at most {MAX_OUTLINE_DEPTH} levels deep")
            stack.extend((child, depth + 1) for child in item.children)
        if count > MAX_OUTLINE_ITEMS:
            raise ValueError(f"an outline has at most {MAX_OUTLINE_ITEMS} items")
        return self


class GlossaryEntry(Schema):
    term: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    definition: LongText


class GlossaryContent(Schema):
    entries: list[GlossaryEntry] = Field(min_length=1, max_length=2000)

    @model_validator(mode="after")
    def _unique_terms(self) -> Self:
        seen: set[str] = set()
        for entry in self.entries:
            key = entry.term.casefold()
            if key in seen:
                raise ValueError(f"the term '{entry.term}' is defined twice")
            seen.add(key)
        return self


CustomContent = Annotated[dict[str, JsonValue], _bounded(MAX_CUSTOM_CONTENT_BYTES)]

# How PATCH validates new content against the kind the artifact already has.
CONTENT_ADAPTERS: dict[ArtifactKind, TypeAdapter[Any]] = {
    ArtifactKind.SUMMARY: TypeAdapter(SummaryContent),
    ArtifactKind.FLASHCARDS: TypeAdapter(FlashcardsContent),
    ArtifactKind.QUIZ: TypeAdapter(QuizContent),
    ArtifactKind.OUTLINE: TypeAdapter(OutlineContent),
    ArtifactKind.GLOSSARY: TypeAdapter(GlossaryContent),
    ArtifactKind.CUSTOM: TypeAdapter(CustomContent),
}


# --- sources and provenance -------------------------------------------------------------


class SourceRef(Schema):
    note_id: Id
    version: int | None = Field(
        default=None,
        ge=1,
        le=2**31 - 1,
        description="The note version the artifact was made from; the current one if left out.",
    )


Sources = Annotated[list[SourceRef], Field(max_length=MAX_SOURCES)]


def _distinct_sources(sources: list[SourceRef]) -> list[SourceRef]:
    ids = [source.note_id for source in sources]
    if len(set(ids)) != len(ids):
        raise ValueError("each note appears at most once among the sources")
    return sources


DistinctSources = Annotated[Sources, AfterValidator(_distinct_sources)]


class Provenance(Schema):
    generator: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
    ] = Field(description="What produced the artifact (tool, agent or model name).")
    model: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
        | None
    ) = None
    parameters: Annotated[dict[str, JsonValue], _bounded(MAX_PARAMETERS_BYTES)] = Field(
        default_factory=dict, description="Generation parameters (prompt id, temperature, ...)."
    )


# --- requests ---------------------------------------------------------------------------


class _ArtifactCreateBase(Schema):
    title: Title
    sources: DistinctSources = Field(default_factory=list)
    provenance: Provenance


class SummaryCreate(_ArtifactCreateBase):
    kind: Literal[ArtifactKind.SUMMARY]
    content: SummaryContent


class FlashcardsCreate(_ArtifactCreateBase):
    kind: Literal[ArtifactKind.FLASHCARDS]
    content: FlashcardsContent


class QuizCreate(_ArtifactCreateBase):
    kind: Literal[ArtifactKind.QUIZ]
    content: QuizContent


class OutlineCreate(_ArtifactCreateBase):
    kind: Literal[ArtifactKind.OUTLINE]
    content: OutlineContent


class GlossaryCreate(_ArtifactCreateBase):
    kind: Literal[ArtifactKind.GLOSSARY]
    content: GlossaryContent


class CustomCreate(_ArtifactCreateBase):
    kind: Literal[ArtifactKind.CUSTOM]
    content: CustomContent


ArtifactCreate = Annotated[
    SummaryCreate | FlashcardsCreate | QuizCreate | OutlineCreate | GlossaryCreate | CustomCreate,
    Field(discriminator="kind"),
]


class ArtifactUpdate(Schema):
    """Fields left out stay as they are. ``content`` is checked against the artifact's kind,
    which never changes; replacing ``sources`` (e.g. after regenerating) clears staleness."""

    title: Title | None = None
    content: dict[str, JsonValue] | None = None
    sources: DistinctSources | None = None
    provenance: Provenance | None = None


# --- responses --------------------------------------------------------------------------


class SourceState(StrEnum):
    CURRENT = "current"
    CHANGED = "changed"
    TRASHED = "trashed"
    PURGED = "purged"


class SourceRead(Schema):
    note_id: str
    version: int = Field(description="The note version the artifact was made from.")
    current_version: int | None = Field(description="The note's version now; null once purged.")
    state: SourceState


class ProvenanceRead(StoredJsonSchema):
    generator: str
    model: str | None
    parameters: dict[str, JsonValue]


class ArtifactSummary(StoredJsonSchema):
    id: str
    workspace_id: str
    kind: ArtifactKind
    title: str
    sources: list[SourceRead]
    stale: bool = Field(description="True when any source note changed since the artifact.")
    stale_sources: list[str] = Field(description="Ids of the source notes that changed.")
    provenance: ProvenanceRead
    version: int
    created_by: str
    updated_by: str
    created_at: datetime
    updated_at: datetime


class ArtifactRead(ArtifactSummary):
    content: JsonValue
