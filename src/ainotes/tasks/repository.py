from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Select, bindparam, delete, exists, select, update

from ainotes.core.models import table_insert
from ainotes.core.pagination import Ordering, paginate
from ainotes.core.repository import WorkspaceRepository
from ainotes.core.rows import RowWrite
from ainotes.tasks.models import NO_DUE_RANK, LabelKind, Task, TaskLabel
from ainotes.tasks.schemas import TaskFilters

_INSERT_TASKS = RowWrite(table_insert(Task))
_INSERT_LABELS = RowWrite(table_insert(TaskLabel))
# Read on every write of a note, built once (building and keying it cost as much as running it).
_TASKS_OF_NOTE = (
    select(Task)
    .where(Task.workspace_id == bindparam("workspace_id"), Task.note_id == bindparam("note_id"))
    .order_by(Task.line)
)


def due_rank(due: date | None) -> int:
    return NO_DUE_RANK if due is None else due.toordinal()


class TaskRepository(WorkspaceRepository[Task]):
    model = Task

    def filtered(self, filters: TaskFilters) -> Select[Task]:
        statement = self.select().where(Task.is_note_trashed.is_(False))
        for kind, value in ((LabelKind.TAG, filters.tag), (LabelKind.ASSIGNEE, filters.assignee)):
            if value is not None:
                statement = statement.where(
                    exists().where(
                        TaskLabel.workspace_id == self.workspace_id,
                        TaskLabel.kind == kind,
                        TaskLabel.value == value,
                        TaskLabel.task_id == Task.id,
                    )
                )
        if filters.status is not None:
            statement = statement.where(Task.status == filters.status)
        # On due_rank, so that the (workspace_id, due_rank, id) index serves the range too.
        if filters.due_before is not None:
            statement = statement.where(Task.due_rank < due_rank(filters.due_before))
        if filters.due_after is not None:
            statement = statement.where(
                Task.due_rank > due_rank(filters.due_after), Task.due_rank < NO_DUE_RANK
            )
        if filters.note_id is not None:
            statement = statement.where(Task.note_id == filters.note_id)
        return statement

    async def page(
        self, filters: TaskFilters, ordering: Ordering, cursor: str | None, limit: int
    ) -> Sequence[Task]:
        statement = paginate(self.filtered(filters), ordering, cursor, limit)
        return (await self.session.execute(statement)).scalars().all()

    async def page_of_note(
        self, note_id: str, ordering: Ordering, cursor: str | None, limit: int
    ) -> Sequence[Task]:
        statement = paginate(self.select().where(Task.note_id == note_id), ordering, cursor, limit)
        return (await self.session.execute(statement)).scalars().all()

    async def of_note(self, note_id: str) -> Sequence[Task]:
        parameters = {"workspace_id": self.workspace_id, "note_id": note_id}
        return (await self.session.execute(_TASKS_OF_NOTE, parameters)).scalars().all()

    async def delete_ids(self, task_ids: list[str]) -> None:
        if task_ids:
            await self.session.execute(
                delete(Task).where(Task.workspace_id == self.workspace_id, Task.id.in_(task_ids))
            )

    async def delete_of_note(self, note_id: str) -> None:
        await self.session.execute(
            delete(Task).where(Task.workspace_id == self.workspace_id, Task.note_id == note_id)
        )

    async def mark_note(self, note_id: str, version: int, trashed: bool) -> None:
        await self.session.execute(
            update(Task)
            .where(Task.workspace_id == self.workspace_id, Task.note_id == note_id)
            .values(note_version=version, is_note_trashed=trashed)
        )

    async def insert(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert task rows (every column given) in one executemany."""
        await _INSERT_TASKS.run(self.session, rows)

    async def delete_labels(self, task_ids: list[str]) -> None:
        if task_ids:
            await self.session.execute(
                delete(TaskLabel).where(
                    TaskLabel.workspace_id == self.workspace_id,
                    TaskLabel.task_id.in_(task_ids),
                )
            )

    async def add_labels(
        self, labelled: Iterable[tuple[str, Iterable[str], Iterable[str]]]
    ) -> None:
        """Label rows for each ``(task_id, tags, assignees)``."""
        rows = [
            {"workspace_id": self.workspace_id, "kind": kind, "value": value, "task_id": task_id}
            for task_id, tags, assignees in labelled
            for kind, values in ((LabelKind.TAG, tags), (LabelKind.ASSIGNEE, assignees))
            for value in values
        ]
        await _INSERT_LABELS.run(self.session, rows)
