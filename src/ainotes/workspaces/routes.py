from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from ainotes.auth.dependencies import CurrentPrincipal
from ainotes.core.config import Settings
from ainotes.core.db import ReadSession, WriteSession
from ainotes.core.errors import problem_responses
from ainotes.core.idempotency import IdempotentRoute
from ainotes.core.ids import Id
from ainotes.core.pagination import InvalidCursor
from ainotes.core.schemas import Page
from ainotes.workspaces import service as workspaces_service
from ainotes.workspaces.dependencies import (
    MemberOfWorkspace,
    OwnedWorkspace,
    ViewableWorkspace,
)
from ainotes.workspaces.errors import (
    WORKSPACE_ACCESS_ERRORS,
    AgentWriteForbidden,
    AlreadyMember,
    InsufficientScope,
    LastOwner,
    MemberNotFound,
    UserNotFound,
)
from ainotes.workspaces.schemas import (
    MemberCreate,
    MemberRead,
    MemberUpdate,
    WorkspaceCreate,
    WorkspaceRead,
    WorkspaceUpdate,
)
from ainotes.workspaces.service import Member, WorkspaceView


def workspace_read(view: WorkspaceView) -> WorkspaceRead:
    workspace = view.workspace
    return WorkspaceRead(
        id=workspace.id,
        name=workspace.name,
        description=workspace.description,
        created_by=workspace.created_by,
        created_at=workspace.created_at,
        updated_at=workspace.updated_at,
        role=view.role,
    )


def member_read(member: Member) -> MemberRead:
    return MemberRead(
        user_id=member.user.id,
        username=member.user.username,
        display_name=member.user.display_name,
        role=member.membership.role,
        created_at=member.membership.created_at,
    )


def build_router(settings: Settings) -> APIRouter:
    router = APIRouter(prefix="/v1/workspaces", tags=["workspaces"], route_class=IdempotentRoute)
    PageSize = Annotated[int, Query(ge=1, le=settings.max_page_size)]  # noqa: N806
    default_limit = settings.default_page_size
    scoped = problem_responses(*WORKSPACE_ACCESS_ERRORS)

    @router.post(
        "",
        response_model=WorkspaceRead,
        status_code=status.HTTP_201_CREATED,
        responses=problem_responses(AgentWriteForbidden),
    )
    async def create_workspace(
        body: WorkspaceCreate, principal: CurrentPrincipal, session: WriteSession
    ) -> WorkspaceRead:
        return workspace_read(await workspaces_service.create(session, principal, body))

    @router.get(
        "",
        response_model=Page[WorkspaceRead],
        responses=problem_responses(InvalidCursor, InsufficientScope),
    )
    async def list_workspaces(
        principal: CurrentPrincipal,
        session: ReadSession,
        cursor: str | None = None,
        limit: PageSize = default_limit,
    ) -> Page[WorkspaceRead]:
        items, next_cursor = await workspaces_service.list_for(session, principal, cursor, limit)
        return Page(items=[workspace_read(view) for view in items], next_cursor=next_cursor)

    @router.get("/{workspace_id}", response_model=WorkspaceRead, responses=scoped)
    async def get_workspace(access: ViewableWorkspace, session: ReadSession) -> WorkspaceRead:
        return workspace_read(await workspaces_service.get(session, access))

    @router.patch("/{workspace_id}", response_model=WorkspaceRead, responses=scoped)
    async def update_workspace(
        body: WorkspaceUpdate, access: OwnedWorkspace, session: WriteSession
    ) -> WorkspaceRead:
        return workspace_read(await workspaces_service.update(session, access, body))

    @router.delete("/{workspace_id}", status_code=status.HTTP_204_NO_CONTENT, responses=scoped)
    async def delete_workspace(access: OwnedWorkspace, session: WriteSession) -> Response:
        await workspaces_service.delete(session, access)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.get("/{workspace_id}/members", response_model=list[MemberRead], responses=scoped)
    async def list_members(access: ViewableWorkspace, session: ReadSession) -> list[MemberRead]:
        return [member_read(m) for m in await workspaces_service.list_members(session, access)]

    @router.post(
        "/{workspace_id}/members",
        response_model=MemberRead,
        status_code=status.HTTP_201_CREATED,
        responses=problem_responses(*WORKSPACE_ACCESS_ERRORS, UserNotFound, AlreadyMember),
    )
    async def add_member(
        body: MemberCreate, access: OwnedWorkspace, session: WriteSession
    ) -> MemberRead:
        return member_read(await workspaces_service.add_member(session, access, body))

    @router.patch(
        "/{workspace_id}/members/{user_id}",
        response_model=MemberRead,
        responses=problem_responses(*WORKSPACE_ACCESS_ERRORS, MemberNotFound, LastOwner),
    )
    async def update_member(
        user_id: Id, body: MemberUpdate, access: OwnedWorkspace, session: WriteSession
    ) -> MemberRead:
        return member_read(
            await workspaces_service.change_role(session, access, user_id, body.role)
        )

    @router.delete(
        "/{workspace_id}/members/{user_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=problem_responses(*WORKSPACE_ACCESS_ERRORS, MemberNotFound, LastOwner),
    )
    async def remove_member(
        user_id: Id, access: MemberOfWorkspace, session: WriteSession
    ) -> Response:
        await workspaces_service.remove_member(session, access, user_id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return router
