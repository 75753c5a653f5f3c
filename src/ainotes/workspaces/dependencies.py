"""Typed access to the workspace named in the path, resolved once per request.

Non-members get 404 (existence does not leak); members below the needed role get 403. The
token and the membership are read in the same session as the rest of the request.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Path, Request

from ainotes.auth.dependencies import BearerCredentials, JwtPrincipal, authenticate
from ainotes.core.db import ReadSession, WriteSession
from ainotes.core.ids import ID_PATTERN
from ainotes.workspaces import service as workspaces_service
from ainotes.workspaces.models import Role
from ainotes.workspaces.service import WorkspaceAccess

WorkspaceId = Annotated[str, Path(pattern=ID_PATTERN, description="The workspace's id.")]


def _reading(required: Role) -> Callable[..., Awaitable[WorkspaceAccess]]:
    async def dependency(
        request: Request,
        workspace_id: WorkspaceId,
        credentials: BearerCredentials,
        jwt_principal: JwtPrincipal,
        session: ReadSession,
    ) -> WorkspaceAccess:
        principal = jwt_principal or await authenticate(request, credentials, session)
        return await workspaces_service.get_access(session, principal, workspace_id, required)

    return dependency


def _writing(required: Role) -> Callable[..., Awaitable[WorkspaceAccess]]:
    async def dependency(
        request: Request,
        workspace_id: WorkspaceId,
        credentials: BearerCredentials,
        jwt_principal: JwtPrincipal,
        session: WriteSession,
    ) -> WorkspaceAccess:
        principal = jwt_principal or await authenticate(request, credentials, session)
        return await workspaces_service.get_access(session, principal, workspace_id, required)

    return dependency


# For routes that read: any member.
ViewableWorkspace = Annotated[WorkspaceAccess, Depends(_reading(Role.VIEWER))]
# For what only owners may read (the audit log), without opening a write transaction.
OwnerViewableWorkspace = Annotated[WorkspaceAccess, Depends(_reading(Role.OWNER))]
# For routes that write: the access check shares the request's write transaction.
MemberOfWorkspace = Annotated[WorkspaceAccess, Depends(_writing(Role.VIEWER))]
EditableWorkspace = Annotated[WorkspaceAccess, Depends(_writing(Role.EDITOR))]
OwnedWorkspace = Annotated[WorkspaceAccess, Depends(_writing(Role.OWNER))]
