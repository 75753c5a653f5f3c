from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import AwareDatetime

from ainotes.agent_actions import service as agent_actions_service
from ainotes.agent_actions.errors import AgentNotFound, AgentTokenNotFound
from ainotes.agent_actions.schemas import (
    AgentCreate,
    AgentRead,
    AgentTokenCreate,
    AgentTokenCreated,
    AgentTokenRead,
    AgentUpdate,
    AuditEventRead,
    AuditFilters,
    AuditOrder,
    AuditVerificationRead,
)
from ainotes.auth.models import Agent, AgentToken
from ainotes.core.config import Settings
from ainotes.core.db import ReadSession, WriteSession
from ainotes.core.errors import problem_responses
from ainotes.core.idempotency import IdempotentRoute
from ainotes.core.ids import Id
from ainotes.core.pagination import InvalidCursor
from ainotes.core.schemas import Page
from ainotes.workspaces.dependencies import (
    EditableWorkspace,
    OwnerViewableWorkspace,
    ViewableWorkspace,
)
from ainotes.workspaces.errors import (
    AgentWriteForbidden,
    InsufficientRole,
    InsufficientScope,
    WorkspaceNotFound,
)

Text = Annotated[str | None, Query(min_length=1, max_length=200)]
Instant = Annotated[AwareDatetime | None, Query(description="An instant with a UTC offset.")]


def build_router(settings: Settings) -> APIRouter:
    router = APIRouter()
    router.include_router(_audit_router(settings))
    router.include_router(_agents_router(settings))
    return router


def _audit_router(settings: Settings) -> APIRouter:
    router = APIRouter(
        prefix="/v1/workspaces/{workspace_id}/audit",
        tags=["audit"],
        route_class=IdempotentRoute,
    )
    PageSize = Annotated[int, Query(ge=1, le=settings.max_page_size)]  # noqa: N806
    default_limit = settings.default_page_size
    scoped = (WorkspaceNotFound, InsufficientRole)

    @router.get(
        "",
        response_model=Page[AuditEventRead],
        responses=problem_responses(*scoped, InvalidCursor),
    )
    async def list_audit_events(
        access: OwnerViewableWorkspace,
        session: ReadSession,
        actor_id: Text = None,
        action: Annotated[
            str | None, Query(max_length=64, description="e.g. `note.updated`.")
        ] = None,
        target_type: Text = None,
        target_id: Text = None,
        since: Instant = None,
        until: Instant = None,
        request_id: Text = None,
        correlation_id: Text = None,
        workflow_id: Text = None,
        actor_kind: Annotated[
            str | None, Query(pattern="^(user|agent|system)$", description="user, agent or system.")
        ] = None,
        proposal_id: Text = None,
        order: AuditOrder = AuditOrder.DESC,
        cursor: Annotated[str | None, Query(max_length=1000)] = None,
        limit: PageSize = default_limit,
    ) -> Page[AuditEventRead]:
        """The workspace's audit events, newest first unless `order=asc`. Owners only; reading
        the log records nothing in it."""
        filters = AuditFilters(
            actor_id=actor_id,
            action=action,
            target_type=target_type,
            target_id=target_id,
            since=since,
            until=until,
            request_id=request_id,
            correlation_id=correlation_id,
            workflow_id=workflow_id,
            actor_kind=actor_kind,
            proposal_id=proposal_id,
        )
        items, next_cursor = await agent_actions_service.list_events(
            session, access, filters, order, cursor, limit
        )
        return Page[AuditEventRead](
            items=[AuditEventRead.model_validate(e) for e in items], next_cursor=next_cursor
        )

    @router.get(
        "/verify",
        response_model=AuditVerificationRead,
        responses=problem_responses(*scoped),
    )
    async def verify_audit_chain(
        access: OwnerViewableWorkspace, session: ReadSession
    ) -> AuditVerificationRead:
        """Recompute the workspace's hash chain and name its first broken link, if any."""
        result = await agent_actions_service.verify(session, access)
        return AuditVerificationRead(
            ok=result.ok,
            events=result.events,
            first_broken_seq=result.first_broken_seq,
            reason=result.reason,
        )

    return router


def _agents_router(settings: Settings) -> APIRouter:
    router = APIRouter(
        prefix="/v1/workspaces/{workspace_id}/agents",
        tags=["agents"],
        route_class=IdempotentRoute,
    )
    PageSize = Annotated[int, Query(ge=1, le=settings.max_page_size)]  # noqa: N806
    default_limit = settings.default_page_size
    scoped = (WorkspaceNotFound, InsufficientRole, InsufficientScope, AgentWriteForbidden)

    @router.post(
        "",
        response_model=AgentRead,
        status_code=status.HTTP_201_CREATED,
        responses=problem_responses(*scoped),
    )
    async def create_agent(
        body: AgentCreate, access: EditableWorkspace, session: WriteSession
    ) -> Agent:
        """Register an AI agent in the workspace (owners and editors). Then issue it a token."""
        return await agent_actions_service.create_agent(session, access, body)

    @router.get(
        "", response_model=Page[AgentRead], responses=problem_responses(*scoped, InvalidCursor)
    )
    async def list_agents(
        access: ViewableWorkspace,
        session: ReadSession,
        cursor: Annotated[str | None, Query(max_length=1000)] = None,
        limit: PageSize = default_limit,
    ) -> Page[AgentRead]:
        items, next_cursor = await agent_actions_service.list_agents(session, access, cursor, limit)
        return Page[AgentRead](
            items=[AgentRead.model_validate(a) for a in items], next_cursor=next_cursor
        )

    @router.get(
        "/{agent_id}", response_model=AgentRead, responses=problem_responses(*scoped, AgentNotFound)
    )
    async def get_agent(agent_id: Id, access: ViewableWorkspace, session: ReadSession) -> Agent:
        return await agent_actions_service.get_agent(session, access, agent_id)

    @router.patch(
        "/{agent_id}", response_model=AgentRead, responses=problem_responses(*scoped, AgentNotFound)
    )
    async def update_agent(
        agent_id: Id, body: AgentUpdate, access: EditableWorkspace, session: WriteSession
    ) -> Agent:
        """Rename or describe an agent, or disable it (`{"disabled": true}`): a disabled
        agent's tokens are refused from the next request on."""
        return await agent_actions_service.update_agent(session, access, agent_id, body)

    @router.post(
        "/{agent_id}/tokens",
        response_model=AgentTokenCreated,
        status_code=status.HTTP_201_CREATED,
        responses=problem_responses(*scoped, AgentNotFound),
    )
    async def create_agent_token(
        agent_id: Id, body: AgentTokenCreate, access: EditableWorkspace, session: WriteSession
    ) -> AgentTokenCreated:
        """Issue a token (`ain_agt_…`) that works only in this workspace, with these scopes.
        Agent tokens must send `Idempotency-Key` on every write."""
        token, secret = await agent_actions_service.issue_agent_token(
            session, access, agent_id, body
        )
        return AgentTokenCreated.model_validate(
            {**AgentTokenRead.model_validate(token).model_dump(), "token": secret}
        )

    @router.get(
        "/{agent_id}/tokens",
        response_model=list[AgentTokenRead],
        responses=problem_responses(*scoped, AgentNotFound),
    )
    async def list_agent_tokens(
        agent_id: Id, access: ViewableWorkspace, session: ReadSession
    ) -> Sequence[AgentToken]:
        return await agent_actions_service.list_agent_tokens(session, access, agent_id)

    @router.delete(
        "/{agent_id}/tokens/{token_id}",
        response_model=AgentTokenRead,
        responses=problem_responses(*scoped, AgentTokenNotFound),
    )
    async def revoke_agent_token(
        agent_id: Id, token_id: Id, access: EditableWorkspace, session: WriteSession
    ) -> AgentToken:
        return await agent_actions_service.revoke_agent_token(session, access, agent_id, token_id)

    return router
