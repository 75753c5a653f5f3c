from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from ainotes.core.concurrency import ExpectedVersion, InvalidIfMatch, StaleVersion, etag_for
from ainotes.core.config import Settings
from ainotes.core.db import ReadSession, WriteSession
from ainotes.core.errors import problem_responses
from ainotes.core.idempotency import IdempotentRoute
from ainotes.core.ids import ID_PATTERN
from ainotes.core.openapi import sets_headers
from ainotes.core.pagination import InvalidCursor
from ainotes.core.schemas import Page
from ainotes.notes import service as notes_service
from ainotes.notes.errors import NoteInTrash, NoteNotFound, NoteTooLarge
from ainotes.tasks import service as tasks_service
from ainotes.tasks.errors import TaskNotFound, TaskOutOfSync
from ainotes.tasks.models import Task, TaskStatus
from ainotes.tasks.schemas import TaskFilters, TaskRead, TaskUpdate
from ainotes.workspaces.dependencies import EditableWorkspace, ViewableWorkspace
from ainotes.workspaces.errors import WORKSPACE_ACCESS_ERRORS

TaskId = Annotated[str, Path(pattern=ID_PATTERN, description="The task's id.")]
NoteId = Annotated[str, Path(pattern=ID_PATTERN, description="The note's id.")]
Label = Annotated[str | None, Query(min_length=1, max_length=200)]


def build_router(settings: Settings) -> APIRouter:
    router = APIRouter(
        prefix="/v1/workspaces/{workspace_id}", tags=["tasks"], route_class=IdempotentRoute
    )
    PageSize = Annotated[int, Query(ge=1, le=settings.max_page_size)]  # noqa: N806
    default_limit = settings.default_page_size
    limits = notes_service.NoteLimits(max_body_chars=settings.max_note_body_chars)
    scoped = WORKSPACE_ACCESS_ERRORS

    @router.get(
        "/tasks",
        response_model=Page[TaskRead],
        responses=problem_responses(*scoped, InvalidCursor),
    )
    async def list_tasks(
        access: ViewableWorkspace,
        session: ReadSession,
        status: TaskStatus | None = None,
        due_before: Annotated[
            date | None, Query(description="Only tasks due before this day (exclusive).")
        ] = None,
        due_after: Annotated[
            date | None, Query(description="Only tasks due after this day (exclusive).")
        ] = None,
        tag: Label = None,
        assignee: Label = None,
        note_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
        cursor: Annotated[str | None, Query(max_length=1000)] = None,
        limit: PageSize = default_limit,
    ) -> Page[TaskRead]:
        """Tasks of the workspace's notes, soonest due first and undated last; tasks of
        trashed notes are left out."""
        filters = TaskFilters(
            status=status,
            due_before=due_before,
            due_after=due_after,
            tag=tag,
            assignee=assignee,
            note_id=note_id,
        )
        items, next_cursor = await tasks_service.list_tasks(session, access, filters, cursor, limit)
        return Page[TaskRead](
            items=[TaskRead.model_validate(t) for t in items], next_cursor=next_cursor
        )

    @router.get(
        "/notes/{note_id}/tasks",
        response_model=Page[TaskRead],
        responses=problem_responses(*scoped, NoteNotFound, InvalidCursor),
    )
    async def list_note_tasks(
        note_id: NoteId,
        access: ViewableWorkspace,
        session: ReadSession,
        cursor: Annotated[str | None, Query(max_length=1000)] = None,
        limit: PageSize = default_limit,
    ) -> Page[TaskRead]:
        """The note's tasks in the order they appear in its body."""
        items, next_cursor = await tasks_service.list_note_tasks(
            session, access, note_id, cursor, limit
        )
        return Page[TaskRead](
            items=[TaskRead.model_validate(t) for t in items], next_cursor=next_cursor
        )

    @router.get(
        "/tasks/{task_id}",
        response_model=TaskRead,
        responses={**problem_responses(*scoped, TaskNotFound), **sets_headers(200, "ETag")},
    )
    async def get_task(
        task_id: TaskId, access: ViewableWorkspace, session: ReadSession, response: Response
    ) -> Task:
        """The ETag is the version of the note the task lives in."""
        task = await tasks_service.get(session, access, task_id)
        response.headers["ETag"] = etag_for(task.note_version)
        return task

    @router.patch(
        "/tasks/{task_id}",
        response_model=TaskRead,
        responses={
            **problem_responses(
                *scoped,
                TaskNotFound,
                TaskOutOfSync,
                NoteInTrash,
                NoteTooLarge,
                StaleVersion,
                InvalidIfMatch,
            ),
            **sets_headers(200, "ETag"),
        },
    )
    async def update_task(
        task_id: TaskId,
        changes: TaskUpdate,
        access: EditableWorkspace,
        session: WriteSession,
        response: Response,
        expected_version: ExpectedVersion,
    ) -> Task:
        """Check, uncheck or re-word the task by rewriting its line in the note: a new note
        version. `If-Match` takes the task's ETag, which is the note's version."""
        task = await tasks_service.update(
            session, access, task_id, changes, expected_version, limits
        )
        response.headers["ETag"] = etag_for(task.note_version)
        return task

    return router
