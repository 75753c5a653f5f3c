"""What a proposal's operations would change, and applying them through the domain services.

A preview reads each note at the version the operation was based on and plays the operations
on it, so that reviewers see exactly what they approve. Applying goes through the same
services that people's writes go through (versions, revisions, links, tasks, search, audit),
acting as the agent on behalf of the approver, with every expected version compare-and-set.
"""

from dataclasses import dataclass, field
from typing import Any

from ainotes.agent_actions.merge import unified_diff
from ainotes.agent_actions.schemas import (
    AddTagsOp,
    CreateArtifactOp,
    CreateNoteOp,
    CreateTaskOp,
    LinkNotesOp,
    NoteChangePreview,
    Operation,
    RemoveTagsOp,
    TrashNoteOp,
    UnlinkNotesOp,
    UpdateNoteOp,
    UpdateTaskOp,
)
from ainotes.artifacts import service as artifacts_service
from ainotes.core.db import ReadOnlySession, WritableSession
from ainotes.notes import service as notes_service
from ainotes.notes.models import Note
from ainotes.notes.repository import NoteRepository, RevisionRepository
from ainotes.notes.schemas import NoteCreate, NoteUpdate, normalize_tags
from ainotes.relationships import service as relationships_service
from ainotes.relationships.repository import RelationshipRepository
from ainotes.relationships.schemas import RelationshipCreate
from ainotes.tasks import parser as task_parser
from ainotes.tasks import service as tasks_service
from ainotes.tasks.models import TaskStatus
from ainotes.tasks.repository import TaskRepository
from ainotes.tasks.schemas import TaskUpdate
from ainotes.workspaces.service import WorkspaceAccess

# Operations that edit an existing note's content, and so name the note they edit.
NoteOp = UpdateNoteOp | TrashNoteOp | AddTagsOp | RemoveTagsOp | CreateTaskOp


def append_task(body: str, text: str) -> str:
    """The body with ``- [ ] text`` as its last line."""
    separator = "" if not body or body.endswith("\n") else "\n"
    return f"{body}{separator}- [ ] {text}\n"


def with_tags_added(tags: list[str], added: list[str]) -> list[str]:
    return normalize_tags([*tags, *added])


def with_tags_removed(tags: list[str], removed: list[str]) -> list[str]:
    gone = set(removed)
    return [tag for tag in tags if tag not in gone]


@dataclass
class StaleRef:
    """Why an operation no longer applies as it was written."""

    operation: int
    reason: str
    note_id: str | None = None
    base_version: int | None = None
    current_version: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "reason": self.reason,
            "note_id": self.note_id,
            "base_version": self.base_version,
            "current_version": self.current_version,
        }


@dataclass
class _Draft:
    """One note as the operations leave it, starting from the version they were based on."""

    note_id: str | None
    base_version: int | None
    current_version: int | None
    title_before: str | None
    body_before: str
    tags_before: list[str]
    title: str
    body: str
    tags: list[str]
    stale: bool = False
    trashed: bool = False
    operations: list[int] = field(default_factory=list)

    def preview(self) -> NoteChangePreview:
        name = self.note_id or "new-note"
        change = "create" if self.note_id is None else "trash" if self.trashed else "update"
        return NoteChangePreview(
            note_id=self.note_id,
            operations=self.operations,
            change=change,
            base_version=self.base_version,
            current_version=self.current_version,
            stale=self.stale,
            title_before=self.title_before,
            title_after=self.title,
            title_diff=unified_diff(self.title_before or "", self.title, name=f"{name}/title"),
            body_diff=unified_diff(self.body_before, self.body, name=f"{name}/body"),
            tags_added=[t for t in self.tags if t not in self.tags_before],
            tags_removed=[t for t in self.tags_before if t not in self.tags],
        )


@dataclass
class Inspection:
    changes: list[NoteChangePreview]
    effects: list[str]
    stale: list[StaleRef]

    @property
    def is_stale(self) -> bool:
        return bool(self.stale)


class _Inspector:
    def __init__(self, session: ReadOnlySession, access: WorkspaceAccess) -> None:
        self.session = session
        self.workspace_id = access.workspace_id
        self.notes = NoteRepository(session, access.workspace_id)
        self.drafts: dict[str, _Draft] = {}
        self.created: list[_Draft] = []
        self.effects: list[str] = []
        self.stale: list[StaleRef] = []

    async def note_exists(self, index: int, note_id: str) -> bool:
        note = await self.notes.get(note_id)
        if note is None or note.trashed_at is not None:
            gone = "is in the trash" if note else "no longer exists"
            self.stale.append(StaleRef(index, f"note {note_id} {gone}", note_id))
            return False
        return True

    async def draft(self, index: int, note_id: str, base_version: int | None) -> _Draft | None:
        draft = self.drafts.get(note_id)
        if draft is None:
            note = await self.notes.get(note_id)
            if note is None:
                self.stale.append(StaleRef(index, f"note {note_id} no longer exists", note_id))
                return None
            draft = await self._first_draft(note, base_version)
            self.drafts[note_id] = draft
            if note.trashed_at is not None:
                draft.stale = True
                self.stale.append(
                    StaleRef(index, f"note {note_id} is in the trash", note_id, base_version)
                )
        if base_version is not None and base_version != draft.current_version:
            if not draft.stale:
                self.stale.append(
                    StaleRef(
                        index,
                        f"note {note_id} is at version {draft.current_version}, not {base_version}",
                        note_id,
                        base_version,
                        draft.current_version,
                    )
                )
            draft.stale = True
        draft.operations.append(index)
        return draft

    async def _first_draft(self, note: Note, base_version: int | None) -> _Draft:
        title, body, tags = note.title, note.body, list(note.tags)
        if base_version is not None and base_version != note.version:
            revisions = RevisionRepository(self.session, self.workspace_id)
            revision = await revisions.get_version(note.id, base_version)
            if revision is not None:
                title, body, tags = revision.title, revision.body, list(revision.tags)
        return _Draft(
            note_id=note.id,
            base_version=base_version if base_version is not None else note.version,
            current_version=note.version,
            title_before=title,
            body_before=body,
            tags_before=tags,
            title=title,
            body=body,
            tags=tags,
        )

    async def inspect(self, index: int, operation: Operation) -> None:
        match operation:
            case CreateNoteOp():
                self.created.append(
                    _Draft(
                        note_id=None,
                        base_version=None,
                        current_version=None,
                        title_before=None,
                        body_before="",
                        tags_before=[],
                        title=operation.title,
                        body=operation.body,
                        tags=list(operation.tags),
                        operations=[index],
                    )
                )
            case UpdateNoteOp():
                if draft := await self.draft(index, operation.note_id, operation.base_version):
                    draft.title = operation.title if operation.title is not None else draft.title
                    draft.body = operation.body if operation.body is not None else draft.body
                    draft.tags = list(operation.tags) if operation.tags is not None else draft.tags
            case TrashNoteOp():
                if draft := await self.draft(index, operation.note_id, operation.base_version):
                    draft.trashed = True
            case AddTagsOp():
                if draft := await self.draft(index, operation.note_id, operation.base_version):
                    draft.tags = with_tags_added(draft.tags, list(operation.tags))
            case RemoveTagsOp():
                if draft := await self.draft(index, operation.note_id, operation.base_version):
                    draft.tags = with_tags_removed(draft.tags, list(operation.tags))
            case CreateTaskOp():
                if draft := await self.draft(index, operation.note_id, operation.base_version):
                    draft.body = append_task(draft.body, operation.text)
            case UpdateTaskOp():
                await self._inspect_task_update(index, operation)
            case LinkNotesOp():
                for note_id in (operation.source_note_id, operation.target_note_id):
                    await self.note_exists(index, note_id)
                self.effects.append(
                    f"operation {index}: relate note {operation.source_note_id} to note "
                    f"{operation.target_note_id} as {operation.type.value}"
                )
            case UnlinkNotesOp():
                links = RelationshipRepository(self.session, self.workspace_id)
                if await links.get(operation.relationship_id) is None:
                    self.stale.append(
                        StaleRef(index, f"relationship {operation.relationship_id} is gone")
                    )
                self.effects.append(
                    f"operation {index}: remove relationship {operation.relationship_id}"
                )
            case CreateArtifactOp():
                artifact = operation.artifact
                self.effects.append(
                    f"operation {index}: create a {artifact.kind.value} artifact '{artifact.title}'"
                )

    async def _inspect_task_update(self, index: int, operation: UpdateTaskOp) -> None:
        task = await TaskRepository(self.session, self.workspace_id).get(operation.task_id)
        if task is None:
            self.stale.append(StaleRef(index, f"task {operation.task_id} is gone"))
            return
        draft = await self.draft(index, task.note_id, operation.base_version)
        if draft is None:
            return
        lines = draft.body.split("\n")
        if not 1 <= task.line <= len(lines):
            return
        done = None if operation.status is None else operation.status is TaskStatus.DONE
        try:
            lines[task.line - 1] = task_parser.rewrite_line(
                lines[task.line - 1], done=done, text=operation.text
            )
        except task_parser.NotATaskLine:
            self.stale.append(StaleRef(index, f"task {task.id} moved in its note", task.note_id))
            return
        draft.body = "\n".join(lines)


async def inspect(
    session: ReadOnlySession, access: WorkspaceAccess, operations: list[Operation]
) -> Inspection:
    """What the operations would change, from the versions they were based on, and every
    reason they no longer apply as written."""
    inspector = _Inspector(session, access)
    for index, operation in enumerate(operations):
        await inspector.inspect(index, operation)
    drafts = [*inspector.drafts.values(), *inspector.created]
    return Inspection(
        changes=[draft.preview() for draft in drafts],
        effects=inspector.effects,
        stale=inspector.stale,
    )


class Applier:
    """Applies operations in order as ``access`` (the agent on behalf of the approver) and
    records what it did, so that the proposal can be reverted."""

    def __init__(
        self,
        session: WritableSession,
        access: WorkspaceAccess,
        limits: notes_service.NoteLimits,
    ) -> None:
        self.session = session
        self.access = access
        self.limits = limits
        # The version each note must be at for the next operation: its base version, then the
        # version the previous operation of this proposal left it at.
        self.expected: dict[str, int | None] = {}
        self.notes: dict[str, dict[str, Any]] = {}
        self.relationships_created: list[str] = []
        self.relationships_removed: list[dict[str, Any]] = []
        self.artifacts_created: list[str] = []

    def result(self) -> dict[str, Any]:
        return {
            "notes": self.notes,
            "relationships_created": self.relationships_created,
            "relationships_removed": self.relationships_removed,
            "artifacts_created": self.artifacts_created,
        }

    async def _current(self, note_id: str, base_version: int | None) -> tuple[Note, int | None]:
        note = await notes_service.get(self.session, self.access, note_id)
        if note_id not in self.expected:
            self.expected[note_id] = base_version
            self.notes[note_id] = {"before": note.version, "after": note.version, "created": False}
        return note, self.expected[note_id]

    def _wrote(self, note: Note) -> None:
        self.expected[note.id] = note.version
        self.notes[note.id]["after"] = note.version

    async def _update(self, note_id: str, base: int | None, changes: NoteUpdate) -> None:
        _, expected = await self._current(note_id, base)
        note = await notes_service.update(
            self.session, self.access, note_id, changes, expected, self.limits
        )
        self._wrote(note)

    async def apply(self, operation: Operation) -> None:
        match operation:
            case CreateNoteOp():
                data = NoteCreate(title=operation.title, body=operation.body, tags=operation.tags)
                note = await notes_service.create(self.session, self.access, data, self.limits)
                self.expected[note.id] = note.version
                self.notes[note.id] = {"before": None, "after": note.version, "created": True}
            case UpdateNoteOp():
                changes = NoteUpdate.model_validate(
                    operation.model_dump(include={"title", "body", "tags"}, exclude_none=True)
                )
                await self._update(operation.note_id, operation.base_version, changes)
            case TrashNoteOp():
                _, expected = await self._current(operation.note_id, operation.base_version)
                note = await notes_service.trash(
                    self.session, self.access, operation.note_id, expected
                )
                self._wrote(note)
            case AddTagsOp() | RemoveTagsOp():
                note, _ = await self._current(operation.note_id, operation.base_version)
                tags = list(note.tags)
                if isinstance(operation, AddTagsOp):
                    tags = with_tags_added(tags, list(operation.tags))
                else:
                    tags = with_tags_removed(tags, list(operation.tags))
                await self._update(operation.note_id, operation.base_version, NoteUpdate(tags=tags))
            case CreateTaskOp():
                note, _ = await self._current(operation.note_id, operation.base_version)
                body = append_task(note.body, operation.text)
                await self._update(operation.note_id, operation.base_version, NoteUpdate(body=body))
            case UpdateTaskOp():
                await self._apply_task_update(operation)
            case LinkNotesOp():
                relation = RelationshipCreate(
                    source_note_id=operation.source_note_id,
                    target_note_id=operation.target_note_id,
                    type=operation.type,
                    comment=operation.comment,
                )
                link = await relationships_service.create(self.session, self.access, relation)
                self.relationships_created.append(link.id)
            case UnlinkNotesOp():
                link = await relationships_service.get(
                    self.session, self.access, operation.relationship_id
                )
                removed = {
                    "source_note_id": link.source_note_id,
                    "target_note_id": link.target_note_id,
                    "type": link.type,
                    "comment": link.comment,
                }
                await relationships_service.delete(
                    self.session, self.access, operation.relationship_id
                )
                self.relationships_removed.append(removed)
            case CreateArtifactOp():
                view = await artifacts_service.create(self.session, self.access, operation.artifact)
                self.artifacts_created.append(view.artifact.id)

    async def _apply_task_update(self, operation: UpdateTaskOp) -> None:
        task = await tasks_service.get(self.session, self.access, operation.task_id)
        _, expected = await self._current(task.note_id, operation.base_version)
        changes = TaskUpdate(status=operation.status, text=operation.text)
        await tasks_service.update(
            self.session, self.access, task.id, changes, expected, self.limits
        )
        self._wrote(await notes_service.get(self.session, self.access, task.note_id))
