"""Reads of the audit log, bound to one chain (a workspace's id, or ``system``)."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Select, exists, func, or_, select

from ainotes.agent_actions.models import (
    Proposal,
    ProposalNote,
    ProposalPolicy,
    ProposalState,
    ProposalTransition,
)
from ainotes.agent_actions.schemas import AuditFilters, ProposalFilters
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


class ProposalRepository(WorkspaceRepository[Proposal]):
    model = Proposal

    async def get_for_update(self, proposal_id: str) -> Proposal | None:
        # Concurrent decisions on one proposal queue here; the second sees the first's state.
        statement = self.select().where(Proposal.id == proposal_id).with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def page(
        self,
        filters: ProposalFilters,
        ordering: Ordering,
        cursor: str | None,
        limit: int,
        now: datetime,
    ) -> Sequence[Proposal]:
        statement = self.select()
        if filters.states:
            statement = statement.where(_in_states(filters.states, now))
        for name in ("agent_id", "workflow_id", "correlation_id"):
            value = getattr(filters, name)
            if value is not None:
                statement = statement.where(getattr(Proposal, name) == value)
        if filters.created_after is not None:
            statement = statement.where(Proposal.created_at > filters.created_after)
        if filters.created_before is not None:
            statement = statement.where(Proposal.created_at < filters.created_before)
        if filters.note_id is not None:
            statement = statement.where(
                exists().where(
                    ProposalNote.workspace_id == self.workspace_id,
                    ProposalNote.proposal_id == Proposal.id,
                    ProposalNote.note_id == filters.note_id,
                )
            )
        statement = paginate(statement, ordering, cursor, limit)
        return (await self.session.execute(statement)).scalars().all()

    async def count_waiting(self, now: datetime) -> dict[str, int]:
        """Pending (and not yet past their expiry) and stale proposals."""
        statement = (
            select(Proposal.state, func.count())
            .where(
                Proposal.workspace_id == self.workspace_id,
                Proposal.state.in_([ProposalState.PENDING.value, ProposalState.STALE.value]),
                Proposal.expires_at > now,
            )
            .group_by(Proposal.state)
        )
        return {str(state): count for state, count in (await self.session.execute(statement)).all()}

    async def expired_ids(self, now: datetime, limit: int) -> Sequence[str]:
        statement = (
            select(Proposal.id)
            .where(
                Proposal.workspace_id == self.workspace_id,
                Proposal.state.in_([ProposalState.PENDING.value, ProposalState.STALE.value]),
                Proposal.expires_at <= now,
            )
            .order_by(Proposal.expires_at, Proposal.id)
            .limit(limit)
        )
        return (await self.session.execute(statement)).scalars().all()

    async def transitions(self, proposal_id: str) -> Sequence[ProposalTransition]:
        statement = (
            select(ProposalTransition)
            .where(
                ProposalTransition.workspace_id == self.workspace_id,
                ProposalTransition.proposal_id == proposal_id,
            )
            .order_by(ProposalTransition.seq)
        )
        return (await self.session.execute(statement)).scalars().all()

    async def last_transition_seq(self, proposal_id: str) -> int:
        statement = select(func.max(ProposalTransition.seq)).where(
            ProposalTransition.workspace_id == self.workspace_id,
            ProposalTransition.proposal_id == proposal_id,
        )
        return (await self.session.execute(statement)).scalar_one_or_none() or 0

    def add_notes(self, proposal_id: str, base_versions: dict[str, int | None]) -> None:
        self.session.add_all(
            ProposalNote(
                workspace_id=self.workspace_id,
                proposal_id=proposal_id,
                note_id=note_id,
                base_version=base_version,
            )
            for note_id, base_version in base_versions.items()
        )

    async def get_policy(self) -> ProposalPolicy | None:
        return await self.session.get(ProposalPolicy, self.workspace_id)


def _in_states(states: Sequence[ProposalState], now: datetime) -> ColumnElement[bool]:
    """In one of ``states`` as reads show them: an undecided proposal past its expiry is
    expired, whether or not that has been recorded yet."""
    undecided = (ProposalState.PENDING.value, ProposalState.STALE.value)
    overdue = Proposal.state.in_(undecided) & (Proposal.expires_at <= now)
    conditions: list[ColumnElement[bool]] = []
    for state in set(states):
        if state is ProposalState.EXPIRED:
            conditions.append((Proposal.state == state.value) | overdue)
        elif state.value in undecided:
            conditions.append((Proposal.state == state.value) & (Proposal.expires_at > now))
        else:
            conditions.append(Proposal.state == state.value)
    return or_(*conditions)


async def workspaces_with_expired_proposals(session: ReadOnlySession, now: datetime) -> list[str]:
    statement = (
        select(Proposal.workspace_id)
        .where(
            Proposal.state.in_([ProposalState.PENDING.value, ProposalState.STALE.value]),
            Proposal.expires_at <= now,
        )
        .distinct()
    )
    return list((await session.execute(statement)).scalars().all())
