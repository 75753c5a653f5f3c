"""Workspaces and their members. The rules: the creator becomes owner, only members see a
workspace, and a workspace always keeps at least one owner."""

from dataclasses import dataclass

from ainotes.auth import service as auth_service
from ainotes.auth.errors import InvalidCredentials
from ainotes.auth.models import User
from ainotes.auth.schemas import Scope
from ainotes.core import audit
from ainotes.core.access_cache import VerifiedAccess, mark_access_changed
from ainotes.core.db import ReadOnlySession, WritableSession
from ainotes.core.models import utcnow
from ainotes.core.pagination import Ordering, page_of, paginate
from ainotes.core.principal import Principal, PrincipalKind
from ainotes.workspaces.errors import (
    AgentWriteForbidden,
    AlreadyMember,
    InsufficientRole,
    InsufficientScope,
    LastOwner,
    MemberNotFound,
    UserNotFound,
    WorkspaceNotFound,
)
from ainotes.workspaces.models import Membership, Role, Workspace
from ainotes.workspaces.repository import MembershipRepository, WorkspaceRepository
from ainotes.workspaces.schemas import MemberCreate, WorkspaceCreate, WorkspaceUpdate

WORKSPACE_ORDER = Ordering("created", Workspace.created_at, Workspace.id, descending=False)


@dataclass(frozen=True, slots=True)
class WorkspaceAccess:
    """Who is asking, in which workspace, and the role they hold there: what every request
    under ``/v1/workspaces/{id}`` resolves first. The workspace's own row is not loaded; the
    routes about the workspace itself read it (``get``)."""

    workspace_id: str
    role: Role
    principal: Principal


@dataclass(frozen=True, slots=True)
class WorkspaceView:
    """A workspace and the asking principal's role in it, as the workspace routes show it."""

    workspace: Workspace
    role: Role


@dataclass(frozen=True, slots=True)
class Member:
    membership: Membership
    user: User


def _not_found(workspace_id: str) -> WorkspaceNotFound:
    return WorkspaceNotFound(f"No workspace {workspace_id} exists that you are a member of.")


async def get_access(
    session: ReadOnlySession, principal: Principal, workspace_id: str, required: Role
) -> WorkspaceAccess:
    """A user's access to a workspace: 404 for non-members, so that existence does not leak;
    403 for members whose role is below ``required``."""
    role = None
    if principal.is_user:
        role = await WorkspaceRepository(session).role_of(workspace_id, principal.id)
    return access_of(principal, workspace_id, role, required)


def access_of(
    principal: Principal, workspace_id: str, role: Role | None, required: Role
) -> WorkspaceAccess:
    """``role`` is None for non-members."""
    if role is None:
        raise _not_found(workspace_id)
    if not role.allows(required):
        raise InsufficientRole(
            f"This needs the {required.value} role in the workspace; you are {role.value}."
        )
    return WorkspaceAccess(workspace_id=workspace_id, role=role, principal=principal)


async def verify_token(session: ReadOnlySession, secret: str, workspace_id: str) -> VerifiedAccess:
    """A personal or agent access token verified for the workspace. A personal token is
    verified in the same statement that reads its user's role there (None for non-members):
    one query on the path of every workspace request. An agent's role is None: its access is
    its token's workspace and scopes (``agent_access``). Raises InvalidCredentials for a token
    that does not verify."""
    if not secret.startswith(auth_service.USER_TOKEN_PREFIX):
        verified = await auth_service.verify_access_token(session, secret)
        if verified is None:
            raise InvalidCredentials("The access token is unknown, revoked or expired.")
        return VerifiedAccess(verified.principal, None, verified.expires_at, verified.last_used_at)
    found = await WorkspaceRepository(session).access_by_token(
        auth_service.hash_token(secret), workspace_id
    )
    if found is None or (found.expires_at is not None and found.expires_at <= utcnow()):
        raise InvalidCredentials("The access token is unknown, revoked or expired.")
    principal = auth_service.user_principal(found.user_id, found.username, found.token_id)
    return VerifiedAccess(principal, found.role, found.expires_at, found.last_used_at)


def may_enter(verified: VerifiedAccess, workspace_id: str) -> bool:
    """Whether the verified token reaches into the workspace at all, whatever the route: a
    member's token, or an agent's token of this workspace. Only such access is remembered
    between requests."""
    if verified.principal.kind is PrincipalKind.AGENT:
        return verified.principal.workspace_id == workspace_id
    return verified.role is not None


def access_for(
    verified: VerifiedAccess, workspace_id: str, required: Role, agent_scope: str | None
) -> WorkspaceAccess:
    """The access a verified token grants for a route that needs ``required`` of a user, or
    ``agent_scope`` of an agent."""
    if verified.principal.kind is PrincipalKind.AGENT:
        return agent_access(verified.principal, workspace_id, agent_scope)
    role = None if verified.role is None else Role(verified.role)
    return access_of(verified.principal, workspace_id, role, required)


def agent_access(principal: Principal, workspace_id: str, scope: str | None) -> WorkspaceAccess:
    """An agent's access: only to the workspace of its token (404 elsewhere, as for a
    non-member), and only where ``scope`` is one its token holds. Agents read as viewers do.
    The workspace exists while the agent's token verifies: agents and their tokens are
    deleted with their workspace."""
    if principal.workspace_id != workspace_id:
        raise _not_found(workspace_id)
    if scope is None or scope not in principal.scopes:
        held = ", ".join(sorted(principal.scopes)) or "none"
        raise InsufficientScope(
            f"This needs an agent token with the scope {scope}; this token has: {held}."
            if scope
            else "Agent tokens cannot use this route.",
            required_scope=scope,
        )
    return WorkspaceAccess(workspace_id=workspace_id, role=Role.VIEWER, principal=principal)


def refuse_agent_write(principal: Principal, workspace_id: str, detail: str | None = None) -> None:
    """Agents never write directly; they are told where to submit a proposal instead. An
    agent of another workspace learns nothing: it gets the non-member 404."""
    if principal.workspace_id != workspace_id:
        raise _not_found(workspace_id)
    raise AgentWriteForbidden(
        detail
        or "Agents cannot change this directly: submit a proposal with the change to "
        f"/v1/workspaces/{workspace_id}/proposals, and a person will review it.",
        proposals_url=f"/v1/workspaces/{workspace_id}/proposals",
    )


async def create(
    session: WritableSession, principal: Principal, data: WorkspaceCreate
) -> WorkspaceView:
    if not principal.is_user:
        raise AgentWriteForbidden("Only people create workspaces.")
    workspace = Workspace(name=data.name, description=data.description, created_by=principal.id)
    session.add(workspace)
    await session.flush()
    session.add(Membership(workspace_id=workspace.id, user_id=principal.id, role=Role.OWNER))
    await session.flush()
    # The first event of the workspace's chain, so the chain exists from the workspace's start.
    await audit.record(
        session,
        actor=principal,
        action="workspace.created",
        target_type="workspace",
        target_id=workspace.id,
        workspace_id=workspace.id,
        changes=audit.changes_between({}, _audited(workspace)),
    )
    return WorkspaceView(workspace, Role.OWNER)


def _audited(workspace: Workspace) -> dict[str, str | None]:
    return {"name": workspace.name, "description": workspace.description}


async def _record_member(
    session: WritableSession,
    access: WorkspaceAccess,
    action: str,
    user_id: str,
    before: Role | None,
    after: Role | None,
) -> None:
    await audit.record(
        session,
        actor=access.principal,
        action=action,
        target_type="member",
        target_id=user_id,
        workspace_id=access.workspace_id,
        changes={
            "role": audit.change(before.value if before else None, after.value if after else None)
        },
    )


async def list_for(
    session: ReadOnlySession, principal: Principal, cursor: str | None, limit: int
) -> tuple[list[WorkspaceView], str | None]:
    if principal.kind is PrincipalKind.AGENT and principal.workspace_id is not None:
        # An agent lists the one workspace of its token, when its scopes let it read it.
        if cursor is not None:
            return [], None
        access = agent_access(principal, principal.workspace_id, Scope.WORKSPACES_READ.value)
        return [await get(session, access)], None
    statement = paginate(
        WorkspaceRepository(session).select_for_member(principal.id),
        WORKSPACE_ORDER,
        cursor,
        limit,
    )
    rows = (await session.execute(statement)).all()
    items, next_cursor = page_of(rows, WORKSPACE_ORDER, limit, key=lambda row: row[0])
    return [WorkspaceView(row[0], Role(row[1])) for row in items], next_cursor


async def get(session: ReadOnlySession, access: WorkspaceAccess) -> WorkspaceView:
    workspace = await WorkspaceRepository(session).get(access.workspace_id)
    if workspace is None:
        # Deleted since the access check, in another transaction (PostgreSQL).
        raise _not_found(access.workspace_id)
    return WorkspaceView(workspace, access.role)


async def update(
    session: WritableSession, access: WorkspaceAccess, data: WorkspaceUpdate
) -> WorkspaceView:
    view = await get(session, access)
    workspace = view.workspace
    before = _audited(workspace)
    for field, value in data.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(workspace, field, value)
    changes = audit.changes_between(before, _audited(workspace))
    if not changes:
        return view
    await session.flush()
    await audit.record(
        session,
        actor=access.principal,
        action="workspace.updated",
        target_type="workspace",
        target_id=workspace.id,
        workspace_id=workspace.id,
        changes=changes,
    )
    return view


async def delete(session: WritableSession, access: WorkspaceAccess) -> None:
    """Delete the workspace and, through foreign-key cascades, everything in it. Its audit
    chain stays (it has no foreign key) and ends with the deletion."""
    workspace = (await get(session, access)).workspace
    workspace_id, before = access.workspace_id, _audited(workspace)
    await WorkspaceRepository(session).delete(workspace)
    mark_access_changed(session)
    await session.flush()
    # After the cascade, like every writer: rows first, then the chain head, so that a
    # concurrent note write (note row, then head) cannot deadlock with this one.
    await audit.record(
        session,
        actor=access.principal,
        action="workspace.deleted",
        target_type="workspace",
        target_id=workspace_id,
        workspace_id=workspace_id,
        changes=audit.changes_between(before, {}),
    )


async def list_members(session: ReadOnlySession, access: WorkspaceAccess) -> list[Member]:
    rows = await MembershipRepository(session, access.workspace_id).list()
    return [Member(membership, user) for membership, user in rows]


async def add_member(
    session: WritableSession, access: WorkspaceAccess, data: MemberCreate
) -> Member:
    if data.user_id is not None:
        user = await auth_service.get_user(session, data.user_id)
        missing = f"No user has the id {data.user_id}."
    else:
        assert data.username is not None
        user = await auth_service.get_user_by_username(session, data.username)
        missing = f"No user has the username '{data.username}'."
    if user is None or user.disabled_at is not None:
        raise UserNotFound(missing)
    members = MembershipRepository(session, access.workspace_id)
    if await members.get(user.id) is not None:
        raise AlreadyMember(f"{user.username} is already a member of this workspace.")
    membership = Membership(workspace_id=access.workspace_id, user_id=user.id, role=data.role)
    session.add(membership)
    await session.flush()
    await _record_member(session, access, "member.added", user.id, None, data.role)
    return Member(membership, user)


async def _lock_owners_then_member(
    members: MembershipRepository, user_id: str
) -> tuple[int, Member]:
    """The number of owners and the member, all locked. Owners are locked first and in one
    order, so that concurrent role changes queue on PostgreSQL instead of deadlocking."""
    owners = await members.lock_owners()
    found = await members.get(user_id, for_update=True)
    if found is None:
        raise MemberNotFound(f"User {user_id} is not a member of this workspace.")
    return owners, Member(*found)


def _ensure_another_owner(owners: int, member: Member) -> None:
    if member.membership.role == Role.OWNER and owners <= 1:
        raise LastOwner("This is the workspace's only owner; make another member owner first.")


async def change_role(
    session: WritableSession, access: WorkspaceAccess, user_id: str, role: Role
) -> Member:
    members = MembershipRepository(session, access.workspace_id)
    owners, member = await _lock_owners_then_member(members, user_id)
    if role != Role.OWNER:
        _ensure_another_owner(owners, member)
    before = Role(member.membership.role)
    if before == role:
        return member
    member.membership.role = role
    mark_access_changed(session)
    await session.flush()
    await _record_member(session, access, "member.role_changed", user_id, before, role)
    return member


async def remove_member(session: WritableSession, access: WorkspaceAccess, user_id: str) -> None:
    """Owners remove anyone; every member may remove themselves (leave)."""
    if user_id != access.principal.id and not access.role.allows(Role.OWNER):
        raise InsufficientRole("Only owners remove other members; you may only leave.")
    members = MembershipRepository(session, access.workspace_id)
    owners, member = await _lock_owners_then_member(members, user_id)
    _ensure_another_owner(owners, member)
    await members.remove(user_id)
    mark_access_changed(session)
    await _record_member(
        session, access, "member.removed", user_id, Role(member.membership.role), None
    )
