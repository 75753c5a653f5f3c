from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints

from ainotes.core.ids import Id
from ainotes.core.schemas import Schema


class RelationshipType(StrEnum):
    """What a relation says about its target. Every relation is directed, source → target.

    - ``references``: the source mentions the target (what every ``[[wikilink]]`` is).
    - ``related``: the two notes are about connected things.
    - ``parent_of``: the target is a part or sub-topic of the source.
    - ``derived_from``: the source was made from the target (a summary, a rewrite).
    - ``contradicts``: the source disagrees with the target.
    - ``supports``: the source gives evidence for the target.
    - ``depends_on``: the source needs the target to be understood or done first.
    - ``example_of``: the source is an instance of what the target describes.
    """

    REFERENCES = "references"
    RELATED = "related"
    PARENT_OF = "parent_of"
    DERIVED_FROM = "derived_from"
    CONTRADICTS = "contradicts"
    SUPPORTS = "supports"
    DEPENDS_ON = "depends_on"
    EXAMPLE_OF = "example_of"


class RelationshipSource(StrEnum):
    """Where a relation comes from: a wikilink in the source's body, or a person's request."""

    BODY = "body"
    MANUAL = "manual"


MAX_COMMENT_CHARS = 2000


class RelationshipCreate(Schema):
    source_note_id: Id
    target_note_id: Id
    type: RelationshipType
    comment: Annotated[
        str | None,
        StringConstraints(strip_whitespace=True, max_length=MAX_COMMENT_CHARS),
        Field(description="Why the relation holds, for people reading it."),
    ] = None


class RelationshipRead(Schema):
    id: str
    type: RelationshipType
    source: RelationshipSource
    source_note_id: str
    target_note_id: str | None = Field(description="Null while a wikilink is unresolved.")
    target_title: str | None = Field(description="Body links: the title as written in the link.")
    heading: str | None = Field(description="Body links: the part after '#', if any.")
    alias: str | None = Field(description="Body links: the part after '|', if any.")
    context: str | None = Field(description="Body links: the line the link is written in.")
    comment: str | None = Field(description="Manual relations: the comment given with it.")
    created_by: str
    created_at: datetime


class NoteRef(Schema):
    id: str
    title: str


class LinkRead(RelationshipRead):
    """An outgoing link, with the note it resolves to (null while unresolved)."""

    resolved: bool
    target: NoteRef | None


class BacklinkRead(RelationshipRead):
    """An incoming link, with the note it comes from; ``context`` is the linking line."""

    source_note: NoteRef


class GraphNode(Schema):
    id: str
    title: str
    depth: int = Field(description="Hops from the root (0 for the root itself).")


class GraphEdge(Schema):
    id: str
    source_note_id: str
    target_note_id: str
    type: RelationshipType
    source: RelationshipSource


class GraphRead(Schema):
    root: str
    depth: int
    max_nodes: int
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    truncated: bool = Field(
        description="True when the neighbourhood had more notes (or links) than were returned."
    )
