from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Query, status

from ainotes.agent_actions import proposals as proposals_service
from ainotes.agent_actions import service as agent_actions_service
from ainotes.agent_actions.errors import (
    AgentNotFound,
    AgentTokenNotFound,
    IllegalTransition,
    InvalidOperation,
    MergeConflict,
    NotTheSubmitter,
    ProposalApplyFailed,
    ProposalExpired,
    ProposalNotFound,
    ProposalSchemaUnsupported,
    ProposalStale,
    RevertConflict,
    SelfApproval,
)
from ainotes.agent_actions.models import ProposalState
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
    ProposalCounts,
    ProposalCreate,
    ProposalDetail,
    ProposalFilters,
    ProposalPolicyRead,
    ProposalPolicyUpdate,
    ProposalRead,
    ProposalReject,
    ProposalRevert,
    TransitionRead,
)
from ainotes.auth.models import Agent, AgentToken
from ainotes.core.config import Settings
from ainotes.core.db import ReadSession, WriteSession
from ainotes.core.errors import problem_responses
from ainotes.core.idempotency import IdempotentRoute
from ainotes.core.ids import Id
from ainotes.core.pagination import InvalidCursor
from ainotes.core.schemas import Page, UtcInstant
from ainotes.notes.errors import NoteNotFound
from ainotes.notes.service import NoteLimits
from ainotes.relationships.errors import RelationshipNotFound
from ainotes.tasks.errors import TaskNotFound
from ainotes.workspaces.dependencies import (
    DecidingWorkspace,
    EditableWorkspace,
    OwnedWorkspace,
    OwnerViewableWorkspace,
    ProposingWorkspace,
    ViewableWorkspace,
)
from ainotes.workspaces.errors import WORKSPACE_ACCESS_ERRORS

Text = Annotated[str | None, Query(min_length=1, max_length=200)]
Instant = Annotated[UtcInstant | None, Query(description="An instant with a UTC offset.")]


def build_routers(settings: Settings) -> list[APIRouter]:
    return [_audit_router(settings), _agents_router(settings), _proposals_router(settings)]


def _audit_router(settings: Settings) -> APIRouter:
    router = APIRouter(
        prefix="/v1/workspaces/{workspace_id}/audit",
        tags=["audit"],
        route_class=IdempotentRoute,
    )
    PageSize = Annotated[int, Query(ge=1, le=settings.max_page_size)]  # noqa: N806
    default_limit = settings.default_page_size
    scoped = WORKSPACE_ACCESS_ERRORS

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
    scoped = WORKSPACE_ACCESS_ERRORS

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


def _proposal_detail(view: proposals_service.ProposalView) -> ProposalDetail:
    base = _proposal_read(view).model_dump()
    inspection = view.inspection
    return ProposalDetail(
        **base,
        changes=inspection.changes if inspection else [],
        effects=inspection.effects if inspection else [],
        history=[TransitionRead.model_validate(t) for t in view.history or []],
    )


def _proposal_read(view: proposals_service.ProposalView) -> ProposalRead:
    proposal = view.proposal
    computed = {"state": view.state, "is_stale": view.is_stale}
    fields = {
        name: computed[name] if name in computed else getattr(proposal, name)
        for name in ProposalRead.model_fields
    }
    return ProposalRead.model_validate(fields)


def _proposals_router(settings: Settings) -> APIRouter:
    router = APIRouter(
        prefix="/v1/workspaces/{workspace_id}",
        tags=["proposals"],
        route_class=IdempotentRoute,
    )
    PageSize = Annotated[int, Query(ge=1, le=settings.max_page_size)]  # noqa: N806
    default_limit = settings.default_page_size
    config = proposals_service.ProposalConfig(
        limits=NoteLimits(max_body_chars=settings.max_note_body_chars),
        default_ttl_hours=settings.proposal_ttl_hours,
    )
    scoped = WORKSPACE_ACCESS_ERRORS
    one = (*scoped, ProposalNotFound)
    decided = (*one, IllegalTransition, ProposalExpired)

    @router.post(
        "/proposals",
        response_model=ProposalDetail,
        status_code=status.HTTP_201_CREATED,
        responses=problem_responses(
            *scoped,
            InvalidOperation,
            NoteNotFound,
            TaskNotFound,
            RelationshipNotFound,
            NotTheSubmitter,
            IllegalTransition,
        ),
    )
    async def submit_proposal(
        body: ProposalCreate, access: ProposingWorkspace, session: WriteSession
    ) -> ProposalDetail:
        """Propose a change set: every operation applies, or none does. Agents (scope
        `proposals:write`) and editors may propose. The proposal waits for a person unless
        the workspace's policy applies every kind of operation in it without one; then it is
        `applied` (or `stale`/`failed`, with the reason) in this response."""
        view = await proposals_service.submit(session, access, body, config)
        return _proposal_detail(view)

    @router.get(
        "/proposals",
        response_model=Page[ProposalRead],
        responses=problem_responses(*scoped, InvalidCursor),
    )
    async def list_proposals(
        access: ViewableWorkspace,
        session: ReadSession,
        state: Annotated[
            list[ProposalState] | None, Query(description="Repeat to ask for several states.")
        ] = None,
        agent_id: Text = None,
        note_id: Text = None,
        workflow_id: Text = None,
        correlation_id: Text = None,
        created_after: Instant = None,
        created_before: Instant = None,
        cursor: Annotated[str | None, Query(max_length=1000)] = None,
        limit: PageSize = default_limit,
    ) -> Page[ProposalRead]:
        """Newest first. `is_stale` here reflects recorded state; the proposal itself shows
        staleness computed live."""
        filters = ProposalFilters(
            states=state,
            agent_id=agent_id,
            note_id=note_id,
            workflow_id=workflow_id,
            correlation_id=correlation_id,
            created_after=created_after,
            created_before=created_before,
        )
        views, next_cursor = await proposals_service.list_proposals(
            session, access, filters, cursor, limit
        )
        return Page[ProposalRead](items=[_proposal_read(v) for v in views], next_cursor=next_cursor)

    @router.get(
        "/proposals/summary",
        response_model=ProposalCounts,
        responses=problem_responses(*scoped),
    )
    async def count_proposals(access: ViewableWorkspace, session: ReadSession) -> ProposalCounts:
        """How many proposals wait for a decision: for a badge."""
        return ProposalCounts(**await proposals_service.counts(session, access))

    @router.get(
        "/proposals/{proposal_id}",
        response_model=ProposalDetail,
        responses=problem_responses(*one),
    )
    async def get_proposal(
        proposal_id: Id, access: ViewableWorkspace, session: ReadSession
    ) -> ProposalDetail:
        """The proposal with, per note, the unified diff of title and body from the version
        it was based on, the tags added and removed, whether it is stale, and its history."""
        return _proposal_detail(await proposals_service.get(session, access, proposal_id))

    @router.post(
        "/proposals/{proposal_id}/approve",
        response_model=ProposalDetail,
        responses=problem_responses(
            *decided, ProposalStale, ProposalApplyFailed, ProposalSchemaUnsupported, SelfApproval
        ),
    )
    async def approve_proposal(
        proposal_id: Id, access: DecidingWorkspace, session: WriteSession
    ) -> ProposalDetail:
        """Apply the proposal (owners and editors). If a note moved past the version the
        proposal was based on, it is recorded `stale` and nothing is applied (409)."""
        view = await proposals_service.approve(session, access, proposal_id, config)
        return _proposal_detail(view)

    @router.post(
        "/proposals/{proposal_id}/reject",
        response_model=ProposalDetail,
        responses=problem_responses(*decided),
    )
    async def reject_proposal(
        proposal_id: Id, body: ProposalReject, access: DecidingWorkspace, session: WriteSession
    ) -> ProposalDetail:
        view = await proposals_service.reject(session, access, proposal_id, body.reason)
        return _proposal_detail(view)

    @router.post(
        "/proposals/{proposal_id}/withdraw",
        response_model=ProposalDetail,
        responses=problem_responses(*decided, NotTheSubmitter),
    )
    async def withdraw_proposal(
        proposal_id: Id, access: ProposingWorkspace, session: WriteSession
    ) -> ProposalDetail:
        """Withdraw your own pending or stale proposal."""
        return _proposal_detail(await proposals_service.withdraw(session, access, proposal_id))

    @router.post(
        "/proposals/{proposal_id}/rebase",
        response_model=ProposalDetail,
        status_code=status.HTTP_201_CREATED,
        responses=problem_responses(*decided, MergeConflict, NotTheSubmitter),
    )
    async def rebase_proposal(
        proposal_id: Id, access: ProposingWorkspace, session: WriteSession
    ) -> ProposalDetail:
        """Carry a stale proposal's edits onto the notes' current versions with a three-way
        merge. A clean merge is a new `pending` proposal that supersedes this one; a conflict
        (409 merge-conflict) lists the conflicting lines and changes nothing."""
        view = await proposals_service.rebase(session, access, proposal_id, config)
        return _proposal_detail(view)

    @router.post(
        "/proposals/{proposal_id}/revert",
        response_model=ProposalDetail,
        responses=problem_responses(*decided, RevertConflict),
    )
    async def revert_proposal(
        proposal_id: Id,
        access: DecidingWorkspace,
        session: WriteSession,
        body: ProposalRevert | None = None,
    ) -> ProposalDetail:
        """Undo an applied proposal with new versions. Refused (409 revert-conflict) when a
        note it touched changed since, unless `force` is true."""
        force = body.force if body else False
        return _proposal_detail(await proposals_service.revert(session, access, proposal_id, force))

    @router.get(
        "/proposal-policy",
        response_model=ProposalPolicyRead,
        responses=problem_responses(*scoped),
    )
    async def get_proposal_policy(
        access: ViewableWorkspace, session: ReadSession
    ) -> ProposalPolicyRead:
        policy = await proposals_service.get_policy(session, access.workspace_id, config)
        return _policy_read(policy)

    @router.put(
        "/proposal-policy",
        response_model=ProposalPolicyRead,
        responses=problem_responses(*scoped),
    )
    async def set_proposal_policy(
        body: ProposalPolicyUpdate, access: OwnedWorkspace, session: WriteSession
    ) -> ProposalPolicyRead:
        """Owners choose which operation kinds apply without a person (default: none)."""
        policy = await proposals_service.set_policy(session, access, body, config)
        return _policy_read(policy)

    return router


def _policy_read(policy: proposals_service.Policy) -> ProposalPolicyRead:
    return ProposalPolicyRead(
        auto_apply=sorted(policy.auto_apply),
        require_distinct_approver=policy.require_distinct_approver,
        proposal_ttl_hours=policy.proposal_ttl_hours,
    )
