"""Typed access to the workspace named in the path, resolved once per request.

Non-members get 404 (existence does not leak); members below the needed role get 403. The
token and the membership are read in the same session as the rest of the request. Reads may
instead take a token's access to the workspace from the access cache, for a few seconds at
most (core/access_cache.py); writes always read it in their own transaction, so that what a
write is allowed to do is never older than the write.

Agents are not members: their token names one workspace and the scopes they hold there. They
read the API sections their scopes name, and every direct write refuses them with a pointer
to proposals; only routes that declare an agent scope (submitting a proposal) let them write.
"""

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Annotated, TypeGuard

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials

from ainotes.auth.dependencies import (
    BearerCredentials,
    JwtPrincipal,
    authenticate,
    note_token_use,
)
from ainotes.auth.schemas import Scope, read_scope_of
from ainotes.auth.service import TOKEN_PREFIX, hash_token
from ainotes.core.access_cache import VerifiedAccess
from ainotes.core.db import ReadOnlySession, ReadSession, WriteSession, get_database
from ainotes.core.ids import ID_PATTERN
from ainotes.core.models import utcnow
from ainotes.core.principal import Principal, PrincipalKind
from ainotes.workspaces import service as workspaces_service
from ainotes.workspaces.models import Role
from ainotes.workspaces.service import WorkspaceAccess

WorkspaceId = Annotated[str, Path(pattern=ID_PATTERN, description="The workspace's id.")]


def _section_scope(request: Request) -> str | None:
    """The read scope of the API section (OpenAPI tag) the matched route belongs to."""
    route = request.scope.get("route")
    tags = getattr(route, "tags", None) or [""]
    scope = read_scope_of(str(tags[0]))
    return scope.value if scope else None


def _is_access_token(
    credentials: HTTPAuthorizationCredentials | None,
) -> TypeGuard[HTTPAuthorizationCredentials]:
    return credentials is not None and credentials.credentials.startswith(TOKEN_PREFIX)


async def _verified_token(
    request: Request, secret: str, session: ReadOnlySession, workspace_id: str, reading: bool
) -> VerifiedAccess:
    """The access token verified for the workspace. Reads may take it from the access cache
    (core/access_cache.py); writes always verify it in their own transaction."""
    cache = get_database(request).access_cache
    key = (hash_token(secret), workspace_id)
    now = utcnow()
    verified = cache.get(key) if reading else None
    if verified is None or verified.expired(now):
        generation = cache.generation
        verified = await workspaces_service.verify_token(session, secret, workspace_id)
        if reading and workspaces_service.may_enter(verified, workspace_id):
            cache.store(key, verified, generation)
    if note_token_use(request, verified.principal, verified.last_used_at):
        cache.update(key, lambda current: replace(current, last_used_at=now))
    return verified


async def _access(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None,
    jwt_principal: Principal | None,
    session: ReadOnlySession,
    workspace_id: str,
    required: Role,
    agent_scope: Callable[[Principal], str | None],
    *,
    reading: bool,
) -> WorkspaceAccess:
    """The principal's access; for an agent, ``agent_scope`` names the scope the route needs
    (or refuses agents outright)."""
    if jwt_principal is None and _is_access_token(credentials):
        verified = await _verified_token(
            request, credentials.credentials, session, workspace_id, reading
        )
        principal = verified.principal
        scope = agent_scope(principal) if principal.kind is PrincipalKind.AGENT else None
        return workspaces_service.access_for(verified, workspace_id, required, scope)
    # A JWT's user, or no credentials at all (a 401).
    principal = jwt_principal or await authenticate(request, credentials, session)
    return await workspaces_service.get_access(session, principal, workspace_id, required)


def _reading(required: Role) -> Callable[..., Awaitable[WorkspaceAccess]]:
    async def dependency(
        request: Request,
        workspace_id: WorkspaceId,
        credentials: BearerCredentials,
        session: ReadSession,
    ) -> WorkspaceAccess:
        def agent_scope(_: Principal) -> str | None:
            # Owner-only reads (the audit log) stay closed to agents whatever their scopes.
            return _section_scope(request) if required is Role.VIEWER else None

        # A JWT is verified in the access check itself (``authenticate``), in sessions of its
        # own: a read session holds no connection until its first statement, so unlike a
        # write's, it can be open meanwhile. One dependency less on every read.
        return await _access(
            request,
            credentials,
            None,
            session,
            workspace_id,
            required,
            agent_scope,
            reading=True,
        )

    return dependency


def _writing(
    required: Role, agent_scope: Scope | None = None, agents_refused: str | None = None
) -> Callable[..., Awaitable[WorkspaceAccess]]:
    async def dependency(
        request: Request,
        workspace_id: WorkspaceId,
        credentials: BearerCredentials,
        jwt_principal: JwtPrincipal,
        session: WriteSession,
    ) -> WorkspaceAccess:
        def scope_or_refusal(agent: Principal) -> str | None:
            if agent_scope is None:
                # Raises: agents write through proposals (or not at all, for decisions).
                workspaces_service.refuse_agent_write(agent, workspace_id, agents_refused)
            return agent_scope.value if agent_scope else None

        return await _access(
            request,
            credentials,
            jwt_principal,
            session,
            workspace_id,
            required,
            scope_or_refusal,
            reading=False,
        )

    return dependency


# For routes that read: any member.
ViewableWorkspace = Annotated[WorkspaceAccess, Depends(_reading(Role.VIEWER))]
# For what only owners may read (the audit log), without opening a write transaction.
OwnerViewableWorkspace = Annotated[WorkspaceAccess, Depends(_reading(Role.OWNER))]
# For routes that write: the access check shares the request's write transaction.
MemberOfWorkspace = Annotated[WorkspaceAccess, Depends(_writing(Role.VIEWER))]
EditableWorkspace = Annotated[WorkspaceAccess, Depends(_writing(Role.EDITOR))]
OwnedWorkspace = Annotated[WorkspaceAccess, Depends(_writing(Role.OWNER))]
# For writes agents may make too (proposals): users need the editor role, agents the scope.
ProposingWorkspace = Annotated[
    WorkspaceAccess, Depends(_writing(Role.EDITOR, agent_scope=Scope.PROPOSALS_WRITE))
]
# For decisions only people make (approving, rejecting, reverting proposals).
DecidingWorkspace = Annotated[
    WorkspaceAccess,
    Depends(
        _writing(
            Role.EDITOR,
            agents_refused="Only people decide on proposals: an agent cannot approve, reject "
            "or revert one, its own included.",
        )
    ),
]
