from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from ainotes.agent_actions import service as agent_actions_service
from ainotes.agent_actions.schemas import (
    AuditEventRead,
    AuditFilters,
    AuditOrder,
    AuditVerificationRead,
)
from ainotes.core.config import Settings
from ainotes.core.db import ReadSession
from ainotes.core.errors import problem_responses
from ainotes.core.idempotency import IdempotentRoute
from ainotes.core.pagination import InvalidCursor
from ainotes.core.schemas import Page
from ainotes.workspaces.dependencies import OwnerViewableWorkspace
from ainotes.workspaces.errors import InsufficientRole, WorkspaceNotFound

Text = Annotated[str | None, Query(min_length=1, max_length=200)]
Instant = Annotated[AwareDatetime | None, Query(description="An instant with a UTC offset.")]


def build_router(settings: Settings) -> APIRouter:
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
