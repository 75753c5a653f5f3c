"""Tasks: the task items of note bodies, kept in step with every note write.

The note body is the source of truth. Each write re-parses the body and matches the items to
the note's existing tasks so that a task keeps its id while it is recognisably the same item
(see ``match_items``); items that are gone are deleted. A change made through the task API is
written into the note's markdown as a new note version, and the same sync then updates the task.
"""

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ainotes.core import audit
from ainotes.core.concurrency import check_version
from ainotes.core.db import ReadOnlySession, WritableSession
from ainotes.core.ids import new_id
from ainotes.core.models import utcnow
from ainotes.core.pagination import Ordering, page_of
from ainotes.notes import service as notes_service
from ainotes.notes.events import NoteChange, NoteChangeKind
from ainotes.notes.schemas import NoteUpdate
from ainotes.search import service as search_service
from ainotes.search.schemas import DocType
from ainotes.tasks import parser
from ainotes.tasks.errors import TaskNotFound, TaskOutOfSync
from ainotes.tasks.models import Task, TaskStatus
from ainotes.tasks.parser import TaskItem
from ainotes.tasks.repository import TaskRepository, due_rank
from ainotes.tasks.schemas import TaskFilters, TaskUpdate
from ainotes.workspaces.service import WorkspaceAccess

# Workspace list: soonest due first, tasks without a due date last; ids (ULIDs, so creation
# order) break ties. A note's tasks: in reading order.
LIST_ORDER = Ordering("due", Task.due_rank, Task.id, descending=False)
NOTE_ORDER = Ordering("line", Task.line, Task.id, descending=False)

# difflib ratio above which an edited item counts as the same task: 0.6 is difflib's own
# "close match" cutoff, and keeps a typo fix or an added word while a rewrite falls through.
SIMILARITY_THRESHOLD = 0.6
# Pairs compared by similarity in one sync; past this (a note with hundreds of rewritten tasks)
# only exact and same-slot matching run, so that a save stays linear-ish in the note's size.
MAX_SIMILARITY_PAIRS = 10_000
# session.info key: which line of a note a write-back put which task on.
_PINS = "ainotes.tasks.pins"


@dataclass(frozen=True, slots=True)
class KnownTask:
    id: str
    text: str
    line: int


def match_items(
    known: Sequence[KnownTask], items: Sequence[TaskItem], pinned: Mapping[int, str]
) -> list[str | None]:
    """For each parsed item, the id of the existing task it continues, or None for a new one.

    In order, each step only among what the previous ones left unmatched:
    1. pinned lines: a write-back through the task API says which task it put on which line;
    2. exact text, k-th occurrence to k-th occurrence (covers moves, reorders, lines inserted
       above, status changes, due-date changes);
    3. similar text (difflib ratio >= ``SIMILARITY_THRESHOLD``), most similar pair first and
       nearest line on ties (covers edits of the text itself);
    4. same slot: one old and one new item alone between the same two matched neighbours
       (or the note's start or end) are the same item edited in place, however much it changed.
    """
    result: list[str | None] = [None] * len(items)
    free = {task.id: task for task in sorted(known, key=lambda t: t.line)}

    def take(index: int, task_id: str) -> None:
        result[index] = task_id
        del free[task_id]

    for index, item in enumerate(items):
        pin = pinned.get(item.line)
        if pin is not None and pin in free:
            take(index, pin)

    by_text: dict[str, list[str]] = {}
    for task in free.values():
        by_text.setdefault(task.text, []).append(task.id)
    for index, item in enumerate(items):
        candidates = by_text.get(item.text)
        if result[index] is None and candidates:
            take(index, candidates.pop(0))

    open_items = [i for i in range(len(items)) if result[i] is None]
    if open_items and free and len(open_items) * len(free) <= MAX_SIMILARITY_PAIRS:
        pairs: list[tuple[float, int, int, str]] = []
        for index in open_items:
            matcher = difflib.SequenceMatcher(None, b=items[index].text, autojunk=False)
            for task in free.values():
                matcher.set_seq1(task.text)
                if matcher.real_quick_ratio() < SIMILARITY_THRESHOLD:
                    continue
                if matcher.quick_ratio() < SIMILARITY_THRESHOLD:
                    continue
                ratio = matcher.ratio()
                if ratio >= SIMILARITY_THRESHOLD:
                    pairs.append((-ratio, abs(task.line - items[index].line), index, task.id))
        for _, _, index, task_id in sorted(pairs):
            if result[index] is None and task_id in free:
                take(index, task_id)

    if free and None in result:
        _match_same_slot(known, result, free)
    return result


def _match_same_slot(
    known: Sequence[KnownTask], result: list[str | None], free: dict[str, KnownTask]
) -> None:
    def slots(sequence: Sequence[str | None]) -> dict[tuple[str | None, str | None], list[int]]:
        # The unmatched positions of a sequence, grouped by their matched neighbours.
        grouped: dict[tuple[str | None, str | None], list[int]] = {}
        before: str | None = None
        waiting: list[int] = []
        for position, value in enumerate([*sequence, None]):
            if position == len(sequence) or value is not None:
                after = value if position < len(sequence) else None
                if waiting:
                    grouped[(before, after)] = waiting
                before, waiting = after, []
            else:
                waiting.append(position)
        return grouped

    old_order = sorted(known, key=lambda t: t.line)
    old_sequence = [None if task.id in free else task.id for task in old_order]
    old_slots = slots(old_sequence)
    for key, positions in slots(result).items():
        old_positions = old_slots.get(key)
        if len(positions) == 1 and old_positions is not None and len(old_positions) == 1:
            task_id = old_order[old_positions[0]].id
            result[positions[0]] = task_id
            del free[task_id]


def _status(done: bool) -> TaskStatus:
    return TaskStatus.DONE if done else TaskStatus.OPEN


def _pins(session: ReadOnlySession) -> dict[str, dict[int, str]]:
    pins: dict[str, dict[int, str]] = session.info.setdefault(_PINS, {})
    return pins


def _search_document(task: Task | Mapping[str, Any], archived: bool) -> search_service.Document:
    # A task is found by its text and tags; ``archived`` is its note's, so that the search
    # filter treats a note and its tasks alike. New tasks arrive as rows, stored ones as tasks.
    if isinstance(task, Task):
        return search_service.Document(
            task.id, task.text, "", task.tags, archived, task.note_id, task.updated_at
        )
    return search_service.Document(
        task["id"], task["text"], "", task["tags"], archived, task["note_id"], task["updated_at"]
    )


async def _index(
    session: WritableSession, change: NoteChange, tasks: Sequence[Task | Mapping[str, Any]]
) -> None:
    """Tasks of live notes are searchable; those of trashed notes are not."""
    if change.trashed:
        await search_service.remove_documents(
            session,
            change.workspace_id,
            DocType.TASK,
            [task.id if isinstance(task, Task) else task["id"] for task in tasks],
        )
    else:
        await search_service.index_documents(
            session,
            change.workspace_id,
            DocType.TASK,
            [_search_document(task, change.archived) for task in tasks],
        )


async def on_note_change(session: WritableSession, change: NoteChange) -> None:
    """Keep the note's tasks, and their search documents, in step with a note write (same
    transaction)."""
    tasks = TaskRepository(session, change.workspace_id)
    if change.kind is NoteChangeKind.PURGED:
        gone = [task.id for task in await tasks.of_note(change.note_id)]
        await search_service.remove_documents(session, change.workspace_id, DocType.TASK, gone)
        await tasks.delete_of_note(change.note_id)
    elif change.kind in (NoteChangeKind.TRASHED, NoteChangeKind.RESTORED):
        # The body does not change; the tasks only leave or rejoin the list (and the index).
        await tasks.mark_note(change.note_id, change.version, change.trashed)
        await _index(session, change, await tasks.of_note(change.note_id))
    else:
        await _sync(session, change, _pins(session).get(change.note_id, {}))


async def _sync(session: WritableSession, change: NoteChange, pinned: Mapping[int, str]) -> None:
    tasks = TaskRepository(session, change.workspace_id)
    items = parser.parse(change.body)
    existing: dict[str, Task] = {}
    if change.kind is not NoteChangeKind.CREATED:
        # A note just created has no tasks yet; saving the lookup keeps creation cheap.
        existing = {task.id: task for task in await tasks.of_note(change.note_id)}
    known = [KnownTask(task.id, task.text, task.line) for task in existing.values()]
    ids = [task_id or new_id() for task_id in match_items(known, items, pinned)]
    now = utcnow()
    # New tasks go in as rows in one executemany: nothing in the request reads them back
    # through the session, and ORM objects cost construction, instrumentation and the unit of
    # work's bookkeeping for each.
    added: list[dict[str, Any]] = []
    relabel: list[tuple[str, Sequence[str], Sequence[str]]] = []
    for item, task_id in zip(items, ids, strict=True):
        content: dict[str, Any] = {
            "text": item.text,
            "status": _status(item.done),
            "due_on": item.due,
            "due_rank": due_rank(item.due),
            "tags": list(item.tags),
            "assignees": list(item.assignees),
        }
        place: dict[str, Any] = {
            "line": item.line,
            "level": item.level,
            "parent_id": None if item.parent is None else ids[item.parent],
            "note_version": change.version,
            "is_note_trashed": change.trashed,
        }
        task = existing.get(task_id)
        if task is None:
            added.append(
                {
                    "workspace_id": change.workspace_id,
                    "id": task_id,
                    "note_id": change.note_id,
                    "created_at": now,
                    "updated_at": now,
                    **content,
                    **place,
                }
            )
            if item.tags or item.assignees:
                relabel.append((task_id, item.tags, item.assignees))
            continue
        changed = {k: v for k, v in content.items() if getattr(task, k) != v}
        if changed:
            task.updated_at = now
        if "tags" in changed or "assignees" in changed:
            relabel.append((task_id, item.tags, item.assignees))
        for key, value in {**changed, **place}.items():
            if getattr(task, key) != value:
                setattr(task, key, value)
    kept = set(ids)
    gone = [task_id for task_id in existing if task_id not in kept]
    await tasks.delete_ids(gone)
    await tasks.delete_labels([task_id for task_id, _, _ in relabel if task_id in existing])
    await tasks.insert(added)
    await tasks.add_labels(relabel)
    await search_service.remove_documents(session, change.workspace_id, DocType.TASK, gone)
    # Every current task, not only the changed ones: the note's archived flag may have changed,
    # and documents indexed as they are cost no write (see search_service.index_documents).
    await _index(session, change, [*added, *(existing[i] for i in ids if i in existing)])


async def resync(session: WritableSession, workspace_id: str) -> int:
    """Re-derive the workspace's tasks (and their search documents) from its notes' bodies,
    for notes written before this module existed; tasks that are already right keep their ids.
    Returns the number of notes read."""
    done, after = 0, ""
    while batch := await notes_service.current_states(
        session, workspace_id, after, notes_service.REBUILD_BATCH
    ):
        for change in batch:
            await _sync(session, change, {})
        done += len(batch)
        after = batch[-1].note_id
    return done


async def get(session: ReadOnlySession, access: WorkspaceAccess, task_id: str) -> Task:
    task = await TaskRepository(session, access.workspace_id).get(task_id)
    if task is None:
        raise TaskNotFound(f"No task {task_id} exists in this workspace.")
    return task


def _normalized(filters: TaskFilters) -> TaskFilters:
    labels = {
        key: parser.normalize_label(value)
        for key, value in (("tag", filters.tag), ("assignee", filters.assignee))
        if value is not None
    }
    return filters.model_copy(update=labels)


async def list_tasks(
    session: ReadOnlySession,
    access: WorkspaceAccess,
    filters: TaskFilters,
    cursor: str | None,
    limit: int,
) -> tuple[list[Task], str | None]:
    """Tasks of the workspace's live notes (not those of trashed notes), soonest due first."""
    repository = TaskRepository(session, access.workspace_id)
    rows = await repository.page(_normalized(filters), LIST_ORDER, cursor, limit)
    return page_of(rows, LIST_ORDER, limit)


async def list_note_tasks(
    session: ReadOnlySession,
    access: WorkspaceAccess,
    note_id: str,
    cursor: str | None,
    limit: int,
) -> tuple[list[Task], str | None]:
    """One note's tasks in reading order; like the note itself, also while it is trashed."""
    await notes_service.get(session, access, note_id)
    repository = TaskRepository(session, access.workspace_id)
    rows = await repository.page_of_note(note_id, NOTE_ORDER, cursor, limit)
    return page_of(rows, NOTE_ORDER, limit)


async def update(
    session: WritableSession,
    access: WorkspaceAccess,
    task_id: str,
    changes: TaskUpdate,
    expected_version: int | None,
    limits: notes_service.NoteLimits,
) -> Task:
    """Check, uncheck or re-word a task by rewriting its line of the note.

    ``expected_version`` is the note's version (the task's ETag). The write-back is always
    conditional on the version the line was read from, so that a note changed meanwhile gives
    412 instead of the line being written over someone else's edit.

    Two entities change, so two events are recorded: ``note.updated`` by the note write (the
    note has a new version, and its history must show it) and ``task.updated`` here.
    """
    task = await get(session, access, task_id)
    note = await notes_service.get(session, access, task.note_id)
    check_version("note", note.version, expected_version)
    lines = note.body.split("\n")
    done = None if changes.status is None else changes.status is TaskStatus.DONE
    try:
        if not 1 <= task.line <= len(lines):
            raise parser.NotATaskLine()
        new_line = parser.rewrite_line(lines[task.line - 1], done=done, text=changes.text)
    except parser.NotATaskLine:
        raise TaskOutOfSync(
            f"Line {task.line} of note {note.id} is no longer task {task_id}; read it again."
        ) from None
    if new_line == lines[task.line - 1]:
        return task
    lines[task.line - 1] = new_line
    before = _audited(task)
    pins = _pins(session)
    pins[note.id] = {task.line: task.id}
    try:
        await notes_service.update(
            session, access, note.id, NoteUpdate(body="\n".join(lines)), note.version, limits
        )
    finally:
        pins.pop(note.id, None)
    await audit.record(
        session,
        actor=access.principal,
        action="task.updated",
        target_type="task",
        target_id=task.id,
        workspace_id=access.workspace_id,
        changes=audit.changes_between(before, _audited(task)),
    )
    return task


def _audited(task: Task) -> dict[str, Any]:
    # note_version ties the event to the note version the change was written as.
    return {"text": task.text, "status": str(task.status), "note_version": task.note_version}
