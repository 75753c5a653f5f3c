from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update

from ainotes.auth.models import AccessToken, Agent, AgentToken, User
from ainotes.core.db import ReadOnlySession


class UserRepository:
    def __init__(self, session: ReadOnlySession) -> None:
        self.session = session

    async def get(self, user_id: str) -> User | None:
        return await self.session.get(User, user_id)

    async def get_by_username(self, username: str) -> User | None:
        statement = select(User).where(User.username == username)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def count(self) -> int:
        return (await self.session.execute(select(func.count()).select_from(User))).scalar_one()


class TokenRepository:
    def __init__(self, session: ReadOnlySession) -> None:
        self.session = session

    async def find_active(self, token_hash: str, now: datetime) -> tuple[AccessToken, User] | None:
        statement = (
            select(AccessToken, User)
            .join(User, User.id == AccessToken.user_id)
            .where(
                AccessToken.token_hash == token_hash,
                AccessToken.revoked_at.is_(None),
                User.disabled_at.is_(None),
            )
        )
        row = (await self.session.execute(statement)).first()
        if row is None:
            return None
        token, user = row[0], row[1]
        if token.expires_at is not None and token.expires_at <= now:
            return None
        return token, user

    async def list_for_user(self, user_id: str) -> Sequence[AccessToken]:
        statement = (
            select(AccessToken)
            .where(AccessToken.user_id == user_id)
            .order_by(AccessToken.created_at.desc(), AccessToken.id.desc())
        )
        return (await self.session.execute(statement)).scalars().all()

    async def get_for_user(self, user_id: str, token_id: str) -> AccessToken | None:
        statement = select(AccessToken).where(
            AccessToken.id == token_id, AccessToken.user_id == user_id
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def touch(self, token_id: str, now: datetime) -> None:
        await self.session.execute(
            update(AccessToken).where(AccessToken.id == token_id).values(last_used_at=now)
        )


class AgentTokenRepository:
    """Agent tokens by hash, across workspaces: a token names its workspace, not the reverse."""

    def __init__(self, session: ReadOnlySession) -> None:
        self.session = session

    async def find_active(self, token_hash: str, now: datetime) -> tuple[AgentToken, Agent] | None:
        statement = (
            select(AgentToken, Agent)
            .join(
                Agent,
                (Agent.workspace_id == AgentToken.workspace_id) & (Agent.id == AgentToken.agent_id),
            )
            .where(
                AgentToken.token_hash == token_hash,
                AgentToken.revoked_at.is_(None),
                Agent.disabled_at.is_(None),
            )
        )
        row = (await self.session.execute(statement)).first()
        if row is None:
            return None
        token, agent = row[0], row[1]
        if token.expires_at is not None and token.expires_at <= now:
            return None
        return token, agent

    async def touch(self, workspace_id: str, token_id: str, now: datetime) -> None:
        await self.session.execute(
            update(AgentToken)
            .where(AgentToken.workspace_id == workspace_id, AgentToken.id == token_id)
            .values(last_used_at=now)
        )
