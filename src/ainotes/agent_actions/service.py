"""Reading and verifying the audit log. Reads record nothing: an event marks a change only."""

from ainotes.agent_actions import repository
from ainotes.agent_actions.repository import AuditRepository
from ainotes.agent_actions.schemas import AuditFilters, AuditOrder
from ainotes.core import audit
from ainotes.core.audit import AuditEvent, ChainVerification
from ainotes.core.db import ReadOnlySession
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
