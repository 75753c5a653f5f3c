from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import ConfigDict, Field, JsonValue, StringConstraints, model_validator

from ainotes.agent_actions.models import ProposalState
from ainotes.artifacts.schemas import ArtifactCreate
from ainotes.auth.schemas import Scope, TokenName
from ainotes.core.ids import Id
from ainotes.core.schemas import Schema, StoredJsonSchema, given_and_not_null
from ainotes.notes.schemas import Tags, Title
from ainotes.relationships.schemas import RelationshipType
from ainotes.tasks.models import TaskStatus
from ainotes.tasks.schemas import TaskText


class AuditOrder(StrEnum):
    ASC = "asc"
    DESC = "desc"


class AuditFilters(Schema):
    """Each filter given narrows the listing; ``since`` is inclusive, ``until`` exclusive."""

    actor_id: str | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    request_id: str | None = None
    correlation_id: str | None = None
    workflow_id: str | None = None
    actor_kind: str | None = None
    proposal_id: str | None = None


class AuditEventRead(Schema):
    workspace_id: str = Field(validation_alias="chain_id")
    seq: int = Field(description="Position in the workspace's chain: 1, 2, 3, … without gaps.")
    occurred_at: datetime
    actor_kind: str = Field(description="user, agent or system.")
    actor_id: str
    actor_name: str = Field(description="The actor's name when the event was recorded.")
    on_behalf_of: str | None
    action: str = Field(description="`resource.verb`, e.g. `note.updated`.")
    target_type: str
    target_id: str
    changes: dict[str, Any] = Field(
        description="Changed fields: `{before, after}` for small values, "
        "`{before_digest, after_digest}` (SHA-256) for text and lists."
    )
    request_id: str | None
    correlation_id: str | None
    trace_id: str | None
    workflow_id: str | None
    workflow_step: str | None
    proposal_id: str | None
    idempotency_key_hash: str | None
    client_ip: str | None
    user_agent: str | None
    prev_hash: str
    hash: str


class AuditVerificationRead(Schema):
    ok: bool
    events: int = Field(description="How many events were checked.")
    first_broken_seq: int | None = Field(
        description="The first event that is edited, missing or out of order; null when ok."
    )
    reason: str | None


AgentName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class AgentCreate(Schema):
    name: AgentName
    description: str = Field(default="", max_length=2000)


class AgentUpdate(Schema):
    name: AgentName | None = None
    description: str | None = Field(default=None, max_length=2000)
    disabled: bool | None = Field(
        default=None,
        description="true disables the agent: its tokens stop working at once. "
        "Its pending proposals stay reviewable.",
    )


class AgentRead(Schema):
    id: str
    workspace_id: str
    name: str
    description: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    disabled_at: datetime | None


class AgentTokenCreate(Schema):
    name: TokenName
    scopes: list[Scope] = Field(
        min_length=1,
        description="What the token may do. Read scopes open an API section; "
        "`proposals:write` lets the agent submit, withdraw and rebase proposals.",
    )
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class AgentTokenRead(Schema):
    id: str
    agent_id: str
    name: str
    token_prefix: str
    scopes: list[str]
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class AgentTokenCreated(AgentTokenRead):
    token: str = Field(description="The secret. It is shown only in this response.")


# --- proposals ----------------------------------------------------------------------------

# Stored with every proposal; a server that does not know a proposal's version refuses to
# apply it rather than guess what its operations meant.
OPS_SCHEMA_VERSION = 1
MAX_OPERATIONS = 50


class OperationKind(StrEnum):
    CREATE_NOTE = "create_note"
    UPDATE_NOTE = "update_note"
    TRASH_NOTE = "trash_note"
    ADD_TAGS = "add_tags"
    REMOVE_TAGS = "remove_tags"
    LINK_NOTES = "link_notes"
    UNLINK_NOTES = "unlink_notes"
    CREATE_TASK = "create_task"
    UPDATE_TASK = "update_task"
    CREATE_ARTIFACT = "create_artifact"


BaseVersion = Annotated[
    int,
    Field(ge=1, le=2**31 - 1, description="The note version this change was made from."),
]
OptionalBaseVersion = Annotated[
    int | None,
    Field(
        default=None,
        ge=1,
        le=2**31 - 1,
        description="If given, the proposal is stale once the note moves past this version.",
    ),
]
NonEmptyTags = Annotated[Tags, Field(min_length=1)]


class CreateNoteOp(Schema):
    op: Literal[OperationKind.CREATE_NOTE]
    title: Title
    body: str = ""
    tags: Tags = Field(default_factory=list)


class UpdateNoteOp(Schema):
    """Replaces the fields given; the diff view shows exactly what changes."""

    model_config = ConfigDict(
        json_schema_extra=given_and_not_null(
            "anyOf", {"title": "string", "body": "string", "tags": "array"}
        )
    )

    op: Literal[OperationKind.UPDATE_NOTE]
    note_id: Id
    base_version: BaseVersion
    title: Title | None = None
    body: str | None = None
    tags: Tags | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> Self:
        if self.title is None and self.body is None and self.tags is None:
            raise ValueError("update_note needs at least one of title, body, tags")
        return self


class TrashNoteOp(Schema):
    op: Literal[OperationKind.TRASH_NOTE]
    note_id: Id
    base_version: BaseVersion


class AddTagsOp(Schema):
    op: Literal[OperationKind.ADD_TAGS]
    note_id: Id
    tags: NonEmptyTags
    base_version: OptionalBaseVersion = None


class RemoveTagsOp(Schema):
    op: Literal[OperationKind.REMOVE_TAGS]
    note_id: Id
    tags: NonEmptyTags
    base_version: OptionalBaseVersion = None


class LinkNotesOp(Schema):
    op: Literal[OperationKind.LINK_NOTES]
    source_note_id: Id
    target_note_id: Id
    type: RelationshipType
    comment: Annotated[str | None, StringConstraints(strip_whitespace=True, max_length=2000)] = None


class UnlinkNotesOp(Schema):
    op: Literal[OperationKind.UNLINK_NOTES]
    relationship_id: Id


class CreateTaskOp(Schema):
    """Appends ``- [ ] text`` to the note, where the task list picks it up."""

    op: Literal[OperationKind.CREATE_TASK]
    note_id: Id
    text: TaskText
    base_version: OptionalBaseVersion = None


class UpdateTaskOp(Schema):
    model_config = ConfigDict(
        json_schema_extra=given_and_not_null("anyOf", {"status": "string", "text": "string"})
    )

    op: Literal[OperationKind.UPDATE_TASK]
    task_id: Id
    base_version: BaseVersion = Field(description="The version of the task's note.")
    status: TaskStatus | None = None
    text: TaskText | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> Self:
        if self.status is None and self.text is None:
            raise ValueError("update_task needs status or text")
        return self


class CreateArtifactOp(Schema):
    op: Literal[OperationKind.CREATE_ARTIFACT]
    artifact: ArtifactCreate


Operation = Annotated[
    CreateNoteOp
    | UpdateNoteOp
    | TrashNoteOp
    | AddTagsOp
    | RemoveTagsOp
    | LinkNotesOp
    | UnlinkNotesOp
    | CreateTaskOp
    | UpdateTaskOp
    | CreateArtifactOp,
    Field(discriminator="op"),
]
Rationale = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class ProposalCreate(Schema):
    rationale: Rationale = Field(description="Why the agent proposes this; shown to reviewers.")
    operations: list[Operation] = Field(
        min_length=1,
        max_length=MAX_OPERATIONS,
        description="Applied together or not at all, in this order.",
    )
    supersedes_id: Id | None = Field(
        default=None,
        description="A pending or stale proposal of the same submitter that this one revises; "
        "it becomes `superseded`.",
    )


class ProposalReject(Schema):
    reason: Reason = Field(description="Why; the agent reads it back from the proposal.")


class ProposalRevert(Schema):
    force: bool = Field(
        default=False,
        description="Revert even notes that changed since the proposal was applied "
        "(their later changes are overwritten; the event records that it was forced).",
    )


class TransitionRead(Schema):
    from_state: ProposalState | None
    to_state: ProposalState
    actor_kind: str
    actor_id: str
    actor_name: str
    reason: str | None
    request_id: str | None
    occurred_at: datetime


class NoteChangePreview(Schema):
    """What the proposal does to one note, from the version it was based on."""

    note_id: str | None = Field(description="null for a note the proposal creates.")
    operations: list[int] = Field(description="Indexes of the operations that touch this note.")
    change: Literal["create", "update", "trash"]
    base_version: int | None
    current_version: int | None
    stale: bool
    title_before: str | None
    title_after: str
    title_diff: str = Field(description="Unified diff of the title; empty when unchanged.")
    body_diff: str = Field(description="Unified diff of the body; empty when unchanged.")
    tags_added: list[str]
    tags_removed: list[str]


class ProposalRead(StoredJsonSchema):
    id: str
    workspace_id: str
    state: ProposalState
    is_stale: bool = Field(
        description="A note it edits has moved past its base version, or a target is gone."
    )
    submitted_by_kind: str
    submitted_by: str
    agent_id: str | None
    rationale: str
    operations: list[dict[str, JsonValue]]
    ops_schema_version: int
    reason: str | None = Field(description="Why it was rejected.")
    failure: dict[str, JsonValue] | None = Field(
        description="The problem that made it fail or stale."
    )
    result: dict[str, JsonValue] | None = Field(
        description="What applying did: the versions of the notes it wrote, the ids it created."
    )
    supersedes_id: str | None
    superseded_by_id: str | None
    decided_by: str | None
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    decided_at: datetime | None
    applied_at: datetime | None
    request_id: str | None
    correlation_id: str | None
    trace_id: str | None
    workflow_id: str | None
    workflow_step: str | None


class ProposalDetail(ProposalRead):
    changes: list[NoteChangePreview] = Field(description="Per note, exactly what would change.")
    effects: list[str] = Field(description="Changes other than note content, in words.")
    history: list[TransitionRead]


class ProposalFilters(Schema):
    states: list[ProposalState] | None = None
    agent_id: str | None = None
    note_id: str | None = None
    workflow_id: str | None = None
    correlation_id: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


class ProposalCounts(Schema):
    pending: int
    stale: int


class ProposalPolicyRead(Schema):
    auto_apply: list[OperationKind] = Field(
        description="Operation kinds that apply without a person. A proposal applies at once "
        "only when every one of its operations is of a kind listed here."
    )
    require_distinct_approver: bool = Field(
        description="The person who issued an agent's token may not approve its proposals."
    )
    proposal_ttl_hours: int = Field(description="How long a proposal waits before it expires.")


class ProposalPolicyUpdate(Schema):
    # What _destructive_is_confirmed checks, in the document.
    model_config = ConfigDict(
        json_schema_extra={
            "if": {
                "required": ["auto_apply"],
                "properties": {
                    "auto_apply": {"contains": {"const": OperationKind.TRASH_NOTE.value}}
                },
            },
            "then": {
                "required": ["confirm_destructive"],
                "properties": {"confirm_destructive": {"const": True}},
            },
        }
    )

    auto_apply: list[OperationKind] = Field(default_factory=list)
    confirm_destructive: bool = Field(
        default=False,
        description="Must be true to let `trash_note` apply without a person.",
    )
    require_distinct_approver: bool = False
    proposal_ttl_hours: int | None = Field(default=None, ge=1, le=24 * 365)

    @model_validator(mode="after")
    def _destructive_is_confirmed(self) -> Self:
        if OperationKind.TRASH_NOTE in self.auto_apply and not self.confirm_destructive:
            raise ValueError("auto-applying trash_note needs confirm_destructive: true")
        return self
