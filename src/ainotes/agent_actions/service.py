"""Agents of a workspace and their tokens; reading and verifying the audit log.

Reads record nothing: an event marks a change only.
"""

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from ainotes.agent_actions import repository
from ainotes.agent_actions.errors import AgentNotFound, AgentTokenNotFound
from ainotes.agent_actions.repository import AgentRepository, AgentTokenRepository, AuditRepository
from ainotes.agent_actions.schemas import (
    AgentCreate,
    AgentTokenCreate,
    AgentUpdate,
    AuditFilters,
    AuditOrder,
)
from ainotes.auth import service as auth_service
from ainotes.auth.models import Agent, AgentToken
from ainotes.core import audit
from ainotes.core.access_cache import mark_access_changed
from ainotes.core.audit import AuditEvent, ChainVerification
from ainotes.core.db import ReadOnlySession, WritableSession
from ainotes.core.models import utcnow
from ainotes.core.pagination import InvalidCursor, Ordering, decode_cursor, page_of
from ainotes.workspaces.service import WorkspaceAccess

# ``seq`` is unique within a chain; the chain id completes the key the cursor carries, and
# names the workspace the cursor was issued for.
ORDERINGS = {
    order: Ordering(
        f"seq:{order.value}",
        AuditEvent.seq,
        AuditEvent.chain_id,
        descending=order is AuditOrder.DESC,
    )
    for order in AuditOrder
}


async def list_events(
    session: ReadOnlySession,
    access: WorkspaceAccess,
    filters: AuditFilters,
    order: AuditOrder,
    cursor: str | None,
    limit: int,
) -> tuple[list[AuditEvent], str | None]:
    ordering = ORDERINGS[order]
    if cursor is not None and decode_cursor(ordering, cursor)[1] != access.workspace_id:
        raise InvalidCursor("The cursor belongs to another workspace's audit log.")
    events = AuditRepository(session, access.workspace_id)
    return page_of(await events.page(filters, ordering, cursor, limit), ordering, limit)


async def verify(session: ReadOnlySession, access: WorkspaceAccess) -> ChainVerification:
    return await audit.verify(session, access.workspace_id)


async def verify_chains(session: ReadOnlySession, chain_id: str | None) -> list[ChainVerification]:
    """Verify one chain, or every chain (``system`` and each workspace's) when none is named."""
    chains = [chain_id] if chain_id is not None else await repository.chain_ids(session)
    return [await audit.verify(session, chain) for chain in chains]


AGENT_ORDER = Ordering("created", Agent.created_at, Agent.id, descending=False)


def _audited_agent(agent: Agent) -> dict[str, Any]:
    return {
        "name": agent.name,
        "description": agent.description,
        "disabled": agent.disabled_at is not None,
    }


async def _record_agent(
    session: WritableSession,
    access: WorkspaceAccess,
    action: str,
    target_type: str,
    target_id: str,
    changes: dict[str, Any],
) -> None:
    await audit.record(
        session,
        actor=access.principal,
        action=action,
        target_type=target_type,
        target_id=target_id,
        workspace_id=access.workspace_id,
        changes=changes,
    )


async def create_agent(
    session: WritableSession, access: WorkspaceAccess, data: AgentCreate
) -> Agent:
    agent = Agent(
        workspace_id=access.workspace_id,
        name=data.name,
        description=data.description,
        created_by=access.principal.id,
    )
    session.add(agent)
    await session.flush()
    changes = audit.changes_between({}, _audited_agent(agent))
    await _record_agent(session, access, "agent.created", "agent", agent.id, changes)
    return agent


async def list_agents(
    session: ReadOnlySession, access: WorkspaceAccess, cursor: str | None, limit: int
) -> tuple[list[Agent], str | None]:
    rows = await AgentRepository(session, access.workspace_id).page(AGENT_ORDER, cursor, limit)
    return page_of(rows, AGENT_ORDER, limit)


async def get_agent(session: ReadOnlySession, access: WorkspaceAccess, agent_id: str) -> Agent:
    agent = await AgentRepository(session, access.workspace_id).get(agent_id)
    if agent is None:
        raise AgentNotFound(f"No agent {agent_id} exists in this workspace.")
    return agent


async def update_agent(
    session: WritableSession, access: WorkspaceAccess, agent_id: str, data: AgentUpdate
) -> Agent:
    """Rename, describe, disable or enable an agent. Disabling is checked on every request
    the agent makes, so its tokens stop at once."""
    agent = await AgentRepository(session, access.workspace_id).get_for_update(agent_id)
    if agent is None:
        raise AgentNotFound(f"No agent {agent_id} exists in this workspace.")
    before = _audited_agent(agent)
    if data.name is not None:
        agent.name = data.name
    if data.description is not None:
        agent.description = data.description
    if data.disabled is not None and data.disabled != (agent.disabled_at is not None):
        agent.disabled_at = utcnow() if data.disabled else None
    changes = audit.changes_between(before, _audited_agent(agent))
    if not changes:
        return agent
    # Cached access carries the agent's name and whether it is enabled.
    mark_access_changed(session)
    await session.flush()
    action = "agent.updated"
    if "disabled" in changes:
        action = "agent.disabled" if agent.disabled_at is not None else "agent.enabled"
    await _record_agent(session, access, action, "agent", agent.id, changes)
    return agent


async def issue_agent_token(
    session: WritableSession, access: WorkspaceAccess, agent_id: str, data: AgentTokenCreate
) -> tuple[AgentToken, str]:
    """A token for the agent, limited to this workspace and ``data.scopes``; the secret is
    returned once and never stored."""
    agent = await get_agent(session, access, agent_id)
    secret = auth_service.new_secret(auth_service.AGENT_TOKEN_PREFIX)
    now = utcnow()
    token = AgentToken(
        workspace_id=access.workspace_id,
        agent_id=agent.id,
        name=data.name,
        token_hash=auth_service.hash_token(secret),
        token_prefix=secret[:16],
        scopes=sorted({scope.value for scope in data.scopes}),
        created_by=access.principal.id,
        created_at=now,
        expires_at=now + timedelta(days=data.expires_in_days) if data.expires_in_days else None,
    )
    session.add(token)
    await session.flush()
    changes = audit.changes_between(
        {},
        {
            "agent_id": agent.id,
            "name": token.name,
            "scopes": " ".join(token.scopes),
            "expires_at": token.expires_at.isoformat() if token.expires_at else None,
        },
    )
    await _record_agent(session, access, "agent_token.created", "agent_token", token.id, changes)
    return token, secret


async def list_agent_tokens(
    session: ReadOnlySession, access: WorkspaceAccess, agent_id: str
) -> Sequence[AgentToken]:
    agent = await get_agent(session, access, agent_id)
    return await AgentTokenRepository(session, access.workspace_id).list_for(agent.id)


async def revoke_agent_token(
    session: WritableSession, access: WorkspaceAccess, agent_id: str, token_id: str
) -> AgentToken:
    """Revoking a revoked token changes nothing and records nothing."""
    token = await AgentTokenRepository(session, access.workspace_id).get_of(agent_id, token_id)
    if token is None:
        raise AgentTokenNotFound(f"Agent {agent_id} has no token {token_id} in this workspace.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        mark_access_changed(session)
        await session.flush()
        changes = {"revoked_at": audit.change(None, token.revoked_at.isoformat())}
        await _record_agent(
            session, access, "agent_token.revoked", "agent_token", token.id, changes
        )
    return token
