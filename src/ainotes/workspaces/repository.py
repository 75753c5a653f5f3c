from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Select, bindparam, delete, func, select

from ainotes.auth.models import AccessToken, User
from ainotes.core.db import ReadOnlySession
from ainotes.core.rows import RowQuery
from ainotes.workspaces.models import Membership, Role, Workspace

# Runs on every workspace request: columns, not entities, straight on the driver (core/rows.py).
ACCESS_BY_TOKEN = RowQuery(
    select(
        AccessToken.id.label("token_id"),
        AccessToken.expires_at,
        AccessToken.last_used_at,
        User.id.label("user_id"),
        User.username,
        Membership.role,
    )
    .join(User, User.id == AccessToken.user_id)
    .outerjoin(
        Membership,
        (Membership.workspace_id == bindparam("workspace_id")) & (Membership.user_id == User.id),
    )
    .where(
        AccessToken.token_hash == bindparam("token_hash"),
        AccessToken.revoked_at.is_(None),
        User.disabled_at.is_(None),
    )
)


class TokenAccess(NamedTuple):
    token_id: str
    expires_at: datetime | None
    last_used_at: datetime | None
    user_id: str
    username: str
    role: Role | None


class WorkspaceRepository:
    """Workspaces as seen by one user: only those they are a member of."""

    def __init__(self, session: ReadOnlySession) -> None:
        self.session = session

    def select_for_member(self, user_id: str) -> Select[Workspace, str]:
        return select(Workspace, Membership.role).join(
            Membership,
            (Membership.workspace_id == Workspace.id) & (Membership.user_id == user_id),
        )

    async def role_of(self, workspace_id: str, user_id: str) -> Role | None:
        """The user's role in the workspace; None when they are not a member (or it does not
        exist)."""
        statement = select(Membership.role).where(
            Membership.workspace_id == workspace_id, Membership.user_id == user_id
        )
        role = (await self.session.execute(statement)).scalar_one_or_none()
        return None if role is None else Role(role)

    async def access_by_token(self, token_hash: str, workspace_id: str) -> TokenAccess | None:
        """A personal token's user and that user's role in the workspace, in one statement:
        the hot path of every workspace request. None when the token is unknown, revoked or
        its user disabled; the role is None when the user is not a member."""
        parameters = {"token_hash": token_hash, "workspace_id": workspace_id}
        row = await ACCESS_BY_TOKEN.first(self.session, parameters)
        if row is None:
            return None
        role = row.pop("role")
        return TokenAccess(**row, role=None if role is None else Role(role))

    async def get(self, workspace_id: str) -> Workspace | None:
        """Without the membership check: for principals scoped to one workspace (agents)."""
        return await self.session.get(Workspace, workspace_id)

    async def delete(self, workspace: Workspace) -> None:
        await self.session.delete(workspace)


class MembershipRepository:
    def __init__(self, session: ReadOnlySession, workspace_id: str) -> None:
        self.session = session
        self.workspace_id = workspace_id

    def _select(self) -> Select[Membership, User]:
        return (
            select(Membership, User)
            .join(User, User.id == Membership.user_id)
            .where(Membership.workspace_id == self.workspace_id)
        )

    async def list(self) -> Sequence[tuple[Membership, User]]:
        statement = self._select().order_by(Membership.created_at, Membership.user_id)
        return [(row[0], row[1]) for row in (await self.session.execute(statement)).all()]

    async def get(
        self, user_id: str, *, for_update: bool = False
    ) -> tuple[Membership, User] | None:
        statement = self._select().where(Membership.user_id == user_id)
        if for_update:
            statement = statement.with_for_update(of=Membership)
        row = (await self.session.execute(statement)).first()
        return None if row is None else (row[0], row[1])

    async def lock_owners(self) -> int:
        """Count owners, locking their rows (PostgreSQL) so that two concurrent demotions
        cannot both see another owner left. SQLite writers are serialized already. Locked in
        user_id order, so that two transactions taking these locks cannot deadlock."""
        statement = (
            select(Membership.user_id)
            .where(
                Membership.workspace_id == self.workspace_id,
                Membership.role == Role.OWNER,
            )
            .order_by(Membership.user_id)
            .with_for_update()
        )
        return len((await self.session.execute(statement)).all())

    async def remove(self, user_id: str) -> None:
        await self.session.execute(
            delete(Membership).where(
                Membership.workspace_id == self.workspace_id,
                Membership.user_id == user_id,
            )
        )

    async def count(self) -> int:
        statement = select(func.count()).where(Membership.workspace_id == self.workspace_id)
        return (await self.session.execute(statement)).scalar_one()
