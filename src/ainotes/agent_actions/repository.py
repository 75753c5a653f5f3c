"""Reads of the audit log, bound to one chain (a workspace's id, or ``system``)."""

from collections.abc import Sequence

from sqlalchemy import Select, select

from ainotes.agent_actions.schemas import AuditFilters
from ainotes.auth.models import Agent, AgentToken
from ainotes.core.audit import AuditChainHead, AuditEvent
from ainotes.core.db import ReadOnlySession
from ainotes.core.pagination import Ordering, paginate
from ainotes.core.repository import WorkspaceRepository

_EXACT_FILTERS = (
    "actor_id",
    "action",
    "target_type",
    "target_id",
    "request_id",
    "correlation_id",
    "workflow_id",
    "actor_kind",
    "proposal_id",
)


class AuditRepository:
    def __init__(self, session: ReadOnlySession, chain_id: str) -> None:
        self.session = session
        self.chain_id = chain_id

    def select(self) -> Select[AuditEvent]:
        return select(AuditEvent).where(AuditEvent.chain_id == self.chain_id)

    async def page(
        self, filters: AuditFilters, ordering: Ordering, cursor: str | None, limit: int
    ) -> Sequence[AuditEvent]:
        statement = self.select()
        for name in _EXACT_FILTERS:
            value = getattr(filters, name)
            if value is not None:
                statement = statement.where(getattr(AuditEvent, name) == value)
        if filters.since is not None:
            statement = statement.where(AuditEvent.occurred_at >= filters.since)
        if filters.until is not None:
            statement = statement.where(AuditEvent.occurred_at < filters.until)
        statement = paginate(statement, ordering, cursor, limit)
        return (await self.session.execute(statement)).scalars().all()


async def chain_ids(session: ReadOnlySession) -> list[str]:
    """Every chain that has events: the system chain and each workspace's, deleted ones too."""
    statement = select(AuditChainHead.chain_id).order_by(AuditChainHead.chain_id)
    return list((await session.execute(statement)).scalars().all())


class AgentRepository(WorkspaceRepository[Agent]):
    model = Agent

    async def get_for_update(self, agent_id: str) -> Agent | None:
        statement = self.select().where(Agent.id == agent_id).with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def page(self, ordering: Ordering, cursor: str | None, limit: int) -> Sequence[Agent]:
        statement = paginate(self.select(), ordering, cursor, limit)
        return (await self.session.execute(statement)).scalars().all()


class AgentTokenRepository(WorkspaceRepository[AgentToken]):
    model = AgentToken

    async def list_for(self, agent_id: str) -> Sequence[AgentToken]:
        statement = (
            self.select()
            .where(AgentToken.agent_id == agent_id)
            .order_by(AgentToken.created_at.desc(), AgentToken.id.desc())
        )
        return (await self.session.execute(statement)).scalars().all()

    async def get_of(self, agent_id: str, token_id: str) -> AgentToken | None:
        statement = self.select().where(AgentToken.agent_id == agent_id, AgentToken.id == token_id)
        return (await self.session.execute(statement)).scalar_one_or_none()
