"""Proposals: how agents change notes. Submitted as immutable change sets, shown as diffs,
decided by people (or by the workspace's policy), applied all together or not at all.

States: pending → approved → applied → reverted; pending → rejected | withdrawn | expired;
pending → stale when a note it edits moves past its base version (found at approval, or
reported live by reads); pending | stale → superseded by a rebased or revised proposal;
approved → failed when applying raises something other than staleness. Every transition is
a row of the proposal's history and one ``proposal.<state>`` audit event.
"""

import contextlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import TypeAdapter

from ainotes.agent_actions import operations as ops
from ainotes.agent_actions import repository
from ainotes.agent_actions.errors import (
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
from ainotes.agent_actions.merge import merge3
from ainotes.agent_actions.models import (
    Proposal,
    ProposalPolicy,
    ProposalState,
    ProposalTransition,
)
from ainotes.agent_actions.repository import (
    AgentRepository,
    AgentTokenRepository,
    ProposalRepository,
)
from ainotes.agent_actions.schemas import (
    OPS_SCHEMA_VERSION,
    AddTagsOp,
    CreateTaskOp,
    LinkNotesOp,
    Operation,
    OperationKind,
    ProposalCreate,
    ProposalFilters,
    ProposalPolicyUpdate,
    RemoveTagsOp,
    TrashNoteOp,
    UnlinkNotesOp,
    UpdateNoteOp,
    UpdateTaskOp,
)
from ainotes.artifacts import service as artifacts_service
from ainotes.artifacts.errors import ArtifactNotFound
from ainotes.auth import service as auth_service
from ainotes.core import audit
from ainotes.core.concurrency import StaleVersion
from ainotes.core.context import get_request_context, in_workflow
from ainotes.core.db import ReadOnlySession, WritableSession
from ainotes.core.errors import ProblemError
from ainotes.core.models import utcnow
from ainotes.core.pagination import Ordering, page_of
from ainotes.core.principal import Principal, PrincipalKind
from ainotes.notes import service as notes_service
from ainotes.notes.errors import NoteInTrash, NoteNotFound
from ainotes.notes.repository import NoteRepository, RevisionRepository
from ainotes.relationships import service as relationships_service
from ainotes.relationships.errors import DuplicateRelationship, RelationshipNotFound
from ainotes.relationships.repository import RelationshipRepository
from ainotes.relationships.schemas import RelationshipCreate
from ainotes.tasks import service as tasks_service
from ainotes.tasks.errors import TaskNotFound, TaskOutOfSync
from ainotes.tasks.repository import TaskRepository
from ainotes.workspaces.models import Role
from ainotes.workspaces.service import WorkspaceAccess

ORDER = Ordering("created:desc", Proposal.created_at, Proposal.id, descending=True)
_OPERATIONS = TypeAdapter(list[Operation])
# Errors that mean a proposal's target moved on, not that the proposal is broken.
_STALENESS = (StaleVersion, NoteNotFound, NoteInTrash, TaskNotFound, TaskOutOfSync)
_UNDECIDED = (ProposalState.PENDING, ProposalState.STALE)
# What each state allows, for the 409 of an illegal transition.
_ALLOWED_ACTIONS = {
    ProposalState.PENDING: ["approve", "reject", "withdraw", "rebase", "supersede"],
    ProposalState.STALE: ["reject", "withdraw", "rebase", "supersede"],
    ProposalState.APPLIED: ["revert"],
}
# The system actor of transitions nobody asked for: expiry, and applying by policy.
POLICY_ACTOR = Principal(kind=PrincipalKind.SYSTEM, id="policy", name="proposal policy")
EXPIRY_ACTOR = Principal(kind=PrincipalKind.SYSTEM, id="expiry", name="proposal expiry")


@dataclass(frozen=True, slots=True)
class ProposalConfig:
    limits: notes_service.NoteLimits
    default_ttl_hours: int


@dataclass(frozen=True, slots=True)
class Policy:
    auto_apply: frozenset[OperationKind]
    require_distinct_approver: bool
    proposal_ttl_hours: int
    set_by: str | None


@dataclass(frozen=True, slots=True)
class ProposalView:
    proposal: Proposal
    state: ProposalState
    is_stale: bool
    inspection: ops.Inspection | None = None
    history: list[ProposalTransition] | None = None


def operations_of(proposal: Proposal) -> list[Operation]:
    if proposal.ops_schema_version != OPS_SCHEMA_VERSION:
        raise ProposalSchemaUnsupported(
            f"Proposal {proposal.id} was written for operations version "
            f"{proposal.ops_schema_version}; this server applies version {OPS_SCHEMA_VERSION}.",
            ops_schema_version=proposal.ops_schema_version,
        )
    return _OPERATIONS.validate_python(proposal.operations)


def _effective_state(proposal: Proposal) -> ProposalState:
    """Expiry shows on reads at once; it is recorded by the next decision or the sweeper."""
    state = ProposalState(proposal.state)
    if state in _UNDECIDED and utcnow() >= proposal.expires_at:
        return ProposalState.EXPIRED
    return state


def _illegal(proposal: Proposal, action: str) -> IllegalTransition:
    state = ProposalState(proposal.state)
    return IllegalTransition(
        f"Proposal {proposal.id} is {state.value}; it cannot be {action}.",
        current_state=state.value,
        allowed_actions=_ALLOWED_ACTIONS.get(state, []),
    )


def _not_found(proposal_id: str) -> ProposalNotFound:
    return ProposalNotFound(f"No proposal {proposal_id} exists in this workspace.")


# --- policy -----------------------------------------------------------------------------


async def get_policy(session: ReadOnlySession, workspace_id: str, config: ProposalConfig) -> Policy:
    row = await ProposalRepository(session, workspace_id).get_policy()
    if row is None:
        return Policy(frozenset(), False, config.default_ttl_hours, None)
    return Policy(
        auto_apply=frozenset(OperationKind(kind) for kind in row.auto_apply),
        require_distinct_approver=row.require_distinct_approver,
        proposal_ttl_hours=row.proposal_ttl_hours or config.default_ttl_hours,
        set_by=row.updated_by,
    )


async def set_policy(
    session: WritableSession,
    access: WorkspaceAccess,
    data: ProposalPolicyUpdate,
    config: ProposalConfig,
) -> Policy:
    before = await get_policy(session, access.workspace_id, config)
    row = await ProposalRepository(session, access.workspace_id).get_policy()
    if row is None:
        row = ProposalPolicy(workspace_id=access.workspace_id, updated_by=access.principal.id)
        session.add(row)
    row.auto_apply = sorted({kind.value for kind in data.auto_apply})
    row.require_distinct_approver = data.require_distinct_approver
    row.proposal_ttl_hours = data.proposal_ttl_hours
    row.updated_by = access.principal.id
    row.updated_at = utcnow()
    await session.flush()
    after = await get_policy(session, access.workspace_id, config)
    changes = audit.changes_between(_audited_policy(before), _audited_policy(after))
    if changes:
        await audit.record(
            session,
            actor=access.principal,
            action="proposal_policy.updated",
            target_type="proposal_policy",
            target_id=access.workspace_id,
            workspace_id=access.workspace_id,
            changes=changes,
        )
    return after


def _audited_policy(policy: Policy) -> dict[str, Any]:
    return {
        "auto_apply": " ".join(sorted(kind.value for kind in policy.auto_apply)),
        "require_distinct_approver": policy.require_distinct_approver,
        "proposal_ttl_hours": policy.proposal_ttl_hours,
    }


# --- transitions ------------------------------------------------------------------------


async def _transition(
    session: WritableSession,
    proposal: Proposal,
    to_state: ProposalState,
    actor: Principal,
    *,
    reason: str | None = None,
    changes: dict[str, Any] | None = None,
    submitted: bool = False,
) -> None:
    """Move the proposal, append its history, and record the event. The event carries the
    proposal's workflow (the agent's) and this request's id (the decider's)."""
    repository = ProposalRepository(session, proposal.workspace_id)
    from_state = None if submitted else ProposalState(proposal.state)
    now = utcnow()
    context = get_request_context()
    session.add(
        ProposalTransition(
            workspace_id=proposal.workspace_id,
            proposal_id=proposal.id,
            seq=await repository.last_transition_seq(proposal.id) + 1,
            from_state=from_state.value if from_state else None,
            to_state=to_state.value,
            actor_kind=actor.kind.value,
            actor_id=actor.id,
            actor_name=actor.name,
            reason=reason,
            request_id=context.request_id if context else None,
            occurred_at=now,
        )
    )
    proposal.state = to_state
    proposal.updated_at = now
    await session.flush()
    recorded = {"state": audit.change(from_state.value if from_state else None, to_state.value)}
    if reason is not None:
        recorded["reason"] = audit.change(None, reason)
    with in_workflow(proposal.workflow_id, proposal.workflow_step):
        await audit.record(
            session,
            actor=actor,
            action=f"proposal.{to_state.value}",
            target_type="proposal",
            target_id=proposal.id,
            workspace_id=proposal.workspace_id,
            changes={**recorded, **(changes or {})},
            proposal_id=proposal.id,
        )


async def _lock_targets(
    session: WritableSession, access: WorkspaceAccess, operations: list[Operation]
) -> None:
    """Lock every note the operations write or link, before any event is recorded: writers
    lock rows first and the audit chain head last, and applying takes many rows, so it must
    take them all up front (else a person's edit holding a note and waiting for the head, and
    this apply holding the head and waiting for the note, deadlock)."""
    note_ids: set[str] = set()
    for op in operations:
        match op:
            case UpdateNoteOp() | TrashNoteOp() | AddTagsOp() | RemoveTagsOp() | CreateTaskOp():
                note_ids.add(op.note_id)
            case LinkNotesOp():
                note_ids.update((op.source_note_id, op.target_note_id))
            case UpdateTaskOp():
                task = await TaskRepository(session, access.workspace_id).get(op.task_id)
                if task is not None:
                    note_ids.add(task.note_id)
            case UnlinkNotesOp():
                links = RelationshipRepository(session, access.workspace_id)
                link = await links.get_for_update(op.relationship_id)
                if link is not None:
                    note_ids.add(link.source_note_id)
                    if link.target_note_id is not None:
                        note_ids.add(link.target_note_id)
            case _:
                pass
    if note_ids:
        await NoteRepository(session, access.workspace_id).lock_all(note_ids)


async def _locked(session: WritableSession, access: WorkspaceAccess, proposal_id: str) -> Proposal:
    proposal = await ProposalRepository(session, access.workspace_id).get_for_update(proposal_id)
    if proposal is None:
        raise _not_found(proposal_id)
    return proposal


async def _expire_if_due(session: WritableSession, proposal: Proposal) -> None:
    """Record an expiry that reads already show, then refuse the decision that found it."""
    if _effective_state(proposal) is ProposalState.EXPIRED and proposal.state in _UNDECIDED:
        await _transition(session, proposal, ProposalState.EXPIRED, EXPIRY_ACTOR)
        raise ProposalExpired(
            f"Proposal {proposal.id} expired at {proposal.expires_at.isoformat()}.",
            current_state=ProposalState.EXPIRED.value,
            allowed_actions=[],
        )


# --- submitting -------------------------------------------------------------------------


async def _check_operation(
    session: ReadOnlySession, access: WorkspaceAccess, op: Operation
) -> None:
    """Refuse, at submission, what could never apply: ids that are not of this workspace and
    base versions from the future. Later changes only make a proposal stale."""
    notes = NoteRepository(session, access.workspace_id)
    note_ids: list[str] = []
    match op:
        case UpdateNoteOp() | TrashNoteOp() | AddTagsOp() | RemoveTagsOp() | CreateTaskOp():
            note_ids = [op.note_id]
        case LinkNotesOp():
            note_ids = [op.source_note_id, op.target_note_id]
        case UnlinkNotesOp():
            await relationships_service.get(session, access, op.relationship_id)
        case UpdateTaskOp():
            note_ids = [(await tasks_service.get(session, access, op.task_id)).note_id]
        case _:
            pass
    base_version = getattr(op, "base_version", None)
    for note_id in note_ids:
        note = await notes.get(note_id)
        if note is None:
            raise NoteNotFound(f"No note {note_id} exists in this workspace.")
        if base_version is not None and base_version > note.version:
            raise InvalidOperation(
                f"base_version {base_version} is ahead of note {note_id}, "
                f"which is at version {note.version}.",
                current_version=note.version,
            )


def _touched_notes(
    operations: list[Operation], task_notes: dict[str, str]
) -> dict[str, int | None]:
    """Each note the operations name, with the version they were based on. Operations on one
    note must agree on it: they describe one edit of one version."""
    touched: dict[str, int | None] = {}
    for index, op in enumerate(operations):
        match op:
            case LinkNotesOp():
                for note_id in (op.source_note_id, op.target_note_id):
                    touched.setdefault(note_id, None)
                continue
            case UpdateTaskOp():
                note_id = task_notes[op.task_id]
            case UpdateNoteOp() | TrashNoteOp() | AddTagsOp() | RemoveTagsOp() | CreateTaskOp():
                note_id = op.note_id
            case _:
                continue
        known = touched.get(note_id)
        if op.base_version is not None and known is not None and known != op.base_version:
            raise InvalidOperation(
                f"Operation {index} is based on version {op.base_version} of note {note_id}, "
                f"another on version {known}; operations on one note share one base version.",
                pointer=f"/operations/{index}/base_version",
            )
        touched[note_id] = op.base_version if op.base_version is not None else known
    return touched


async def _validated(
    session: ReadOnlySession, access: WorkspaceAccess, operations: list[Operation]
) -> dict[str, int | None]:
    task_notes: dict[str, str] = {}
    for index, op in enumerate(operations):
        try:
            await _check_operation(session, access, op)
            if isinstance(op, UpdateTaskOp):
                task_notes[op.task_id] = (
                    await tasks_service.get(session, access, op.task_id)
                ).note_id
        except ProblemError as error:
            # Same problem type, pointed at the operation, so the agent can fix that one.
            error.detail = f"Operation {index} ({op.op.value}): {error.detail}"
            error.extensions["pointer"] = f"/operations/{index}"
            raise
    return _touched_notes(operations, task_notes)


async def _sponsor(session: ReadOnlySession, principal: Principal) -> str | None:
    """Who issued the agent's token: the person a distinct approver must differ from."""
    if principal.kind is not PrincipalKind.AGENT or principal.workspace_id is None:
        return None
    if principal.token_id is None:
        return None
    token = await AgentTokenRepository(session, principal.workspace_id).get(principal.token_id)
    return token.created_by if token else None


async def submit(
    session: WritableSession,
    access: WorkspaceAccess,
    data: ProposalCreate,
    config: ProposalConfig,
    *,
    submitter: Principal | None = None,
) -> ProposalView:
    """Record a proposal as pending; if the workspace's policy lets every one of its
    operation kinds apply without a person, apply it at once. ``submitter`` is whose proposal
    it is when that is not who asks (a person rebasing an agent's proposal)."""
    principal = submitter or access.principal
    operations = list(data.operations)
    touched = await _validated(session, access, operations)
    # Checked before anything is written: a refusal here may commit (an expiry it records),
    # and must not take a half-made proposal with it.
    old = None
    if data.supersedes_id is not None:
        old = await _supersedable(session, access, data.supersedes_id, principal)
    policy = await get_policy(session, access.workspace_id, config)
    context = get_request_context()
    # A revision belongs to the workflow of what it revises, unless it names its own.
    workflow = context if context and context.workflow_id else old
    now = utcnow()
    is_agent = principal.kind is PrincipalKind.AGENT
    auto_apply = bool(policy.auto_apply) and {op.op for op in operations} <= policy.auto_apply
    if auto_apply:
        await _lock_targets(session, access, operations)
    proposal = Proposal(
        workspace_id=access.workspace_id,
        state=ProposalState.PENDING,
        submitted_by_kind=principal.kind.value,
        submitted_by=principal.id,
        agent_id=principal.id if is_agent else None,
        sponsor_id=await _sponsor(session, principal) or (old.sponsor_id if old else None),
        rationale=data.rationale,
        operations=_OPERATIONS.dump_python(operations, mode="json"),
        ops_schema_version=OPS_SCHEMA_VERSION,
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(hours=policy.proposal_ttl_hours),
        request_id=context.request_id if context else None,
        correlation_id=context.correlation_id if context else None,
        trace_id=context.trace_id if context else None,
        workflow_id=workflow.workflow_id if workflow else None,
        workflow_step=workflow.workflow_step if workflow else None,
    )
    session.add(proposal)
    await session.flush()
    ProposalRepository(session, access.workspace_id).add_notes(proposal.id, touched)
    if old is not None:
        await _supersede(session, access, old, proposal)
    await _transition(
        session,
        proposal,
        ProposalState.PENDING,
        access.principal,
        changes={"operations": audit.change(None, proposal.operations)},
        submitted=True,
    )
    if auto_apply:
        await _apply_by_policy(session, access, proposal, operations, policy, config)
    return await view(session, access, proposal)


async def _supersedable(
    session: WritableSession, access: WorkspaceAccess, old_id: str, submitter: Principal
) -> Proposal:
    old = await _locked(session, access, old_id)
    if old.submitted_by != submitter.id:
        raise NotTheSubmitter(f"Proposal {old_id} was submitted by someone else.")
    await _expire_if_due(session, old)
    if old.state not in _UNDECIDED:
        raise _illegal(old, "superseded")
    return old


async def _supersede(
    session: WritableSession, access: WorkspaceAccess, old: Proposal, new: Proposal
) -> None:
    old.superseded_by_id = new.id
    new.supersedes_id = old.id
    await _transition(
        session,
        old,
        ProposalState.SUPERSEDED,
        access.principal,
        changes={"superseded_by_id": audit.change(None, new.id)},
    )


async def _apply_by_policy(
    session: WritableSession,
    access: WorkspaceAccess,
    proposal: Proposal,
    operations: list[Operation],
    policy: Policy,
    config: ProposalConfig,
) -> None:
    """Apply at submission. A failure leaves the proposal recorded as stale or failed, and
    the submission still succeeds: the proposal exists, and says why it did not apply."""
    inspection = await ops.inspect(session, access, operations)
    if inspection.is_stale:
        return
    await _transition(session, proposal, ProposalState.APPROVED, POLICY_ACTOR)
    # Versions made by policy are attributed to the agent on behalf of the owner who set it.
    on_behalf_of = policy.set_by or POLICY_ACTOR.id
    try:
        await _apply(session, access, proposal, operations, on_behalf_of, POLICY_ACTOR, config)
    except (ProposalStale, ProposalApplyFailed):
        return


# --- reading ----------------------------------------------------------------------------


async def view(
    session: ReadOnlySession, access: WorkspaceAccess, proposal: Proposal
) -> ProposalView:
    """The proposal with its diff view and history. The diff is computed live, so staleness
    shows before anyone tries to approve."""
    state = _effective_state(proposal)
    repository = ProposalRepository(session, access.workspace_id)
    history = list(await repository.transitions(proposal.id))
    inspection = None
    undecided = state in _UNDECIDED
    if proposal.ops_schema_version == OPS_SCHEMA_VERSION:
        inspection = await ops.inspect(session, access, operations_of(proposal))
        if not undecided:
            # Once decided, notes moving on is history, not staleness.
            inspection.changes = [c.model_copy(update={"stale": False}) for c in inspection.changes]
            inspection.stale = []
    is_stale = state is ProposalState.STALE or (
        undecided and inspection is not None and inspection.is_stale
    )
    return ProposalView(proposal, state, is_stale, inspection, history)


async def get(session: ReadOnlySession, access: WorkspaceAccess, proposal_id: str) -> ProposalView:
    proposal = await ProposalRepository(session, access.workspace_id).get(proposal_id)
    if proposal is None:
        raise _not_found(proposal_id)
    return await view(session, access, proposal)


async def list_proposals(
    session: ReadOnlySession,
    access: WorkspaceAccess,
    filters: ProposalFilters,
    cursor: str | None,
    limit: int,
) -> tuple[list[ProposalView], str | None]:
    rows = await ProposalRepository(session, access.workspace_id).page(
        filters, ORDER, cursor, limit, utcnow()
    )
    proposals, next_cursor = page_of(rows, ORDER, limit)
    views = []
    for proposal in proposals:
        state = _effective_state(proposal)
        views.append(ProposalView(proposal, state, state is ProposalState.STALE))
    return views, next_cursor


async def counts(session: ReadOnlySession, access: WorkspaceAccess) -> dict[str, int]:
    found = await ProposalRepository(session, access.workspace_id).count_waiting(utcnow())
    return {state.value: found.get(state.value, 0) for state in _UNDECIDED}


# --- deciding ---------------------------------------------------------------------------


async def _acting_principal(
    session: ReadOnlySession, proposal: Proposal, on_behalf_of: str
) -> Principal:
    """The submitter, acting for the approver: what the applied versions are attributed to."""
    name = proposal.submitted_by
    kind = PrincipalKind(proposal.submitted_by_kind)
    if kind is PrincipalKind.AGENT:
        agent = await AgentRepository(session, proposal.workspace_id).get(proposal.submitted_by)
        name = agent.name if agent else name
    else:
        user = await auth_service.get_user(session, proposal.submitted_by)
        name = user.username if user else name
    return Principal(
        kind=kind,
        id=proposal.submitted_by,
        name=name,
        workspace_id=proposal.workspace_id,
        on_behalf_of=on_behalf_of,
        proposal_id=proposal.id,
    )


async def _apply(
    session: WritableSession,
    access: WorkspaceAccess,
    proposal: Proposal,
    operations: list[Operation],
    on_behalf_of: str,
    decider: Principal,
    config: ProposalConfig,
) -> None:
    """approved → applied, all operations in one savepoint; or → stale / failed, with the
    operations rolled back and the reason kept (the refusal commits that much)."""
    acting = WorkspaceAccess(
        workspace_id=access.workspace_id,
        role=Role.EDITOR,
        principal=await _acting_principal(session, proposal, on_behalf_of),
    )
    applier = ops.Applier(session, acting, config.limits)
    index = 0
    try:
        async with session.begin_nested():
            with in_workflow(proposal.workflow_id, proposal.workflow_step):
                for operation in operations:
                    await applier.apply(operation)
                    index += 1
    except ProblemError as error:
        failure = {
            "operation": index,
            "type": error.type_uri(),
            "status": error.status,
            "detail": error.detail,
        }
        proposal.failure = failure
        if isinstance(error, _STALENESS):
            await _transition(session, proposal, ProposalState.STALE, decider)
            raise ProposalStale(
                f"Operation {index} no longer applies: {error.detail}",
                current_state=ProposalState.STALE.value,
                allowed_actions=_ALLOWED_ACTIONS[ProposalState.STALE],
                stale=[failure],
            ) from None
        await _transition(session, proposal, ProposalState.FAILED, decider)
        raise ProposalApplyFailed(
            f"Operation {index} failed, and nothing was applied: {error.detail}",
            current_state=ProposalState.FAILED.value,
            allowed_actions=[],
            failure=failure,
        ) from None
    proposal.result = applier.result()
    proposal.applied_at = utcnow()
    await _transition(
        session,
        proposal,
        ProposalState.APPLIED,
        decider,
        changes={"result": audit.change(None, proposal.result)},
    )


async def approve(
    session: WritableSession,
    access: WorkspaceAccess,
    proposal_id: str,
    config: ProposalConfig,
) -> ProposalView:
    """Apply a pending proposal, checking again, under the locks of the write, that every
    note is still at the version the proposal was based on."""
    proposal = await _locked(session, access, proposal_id)
    await _expire_if_due(session, proposal)
    if proposal.state == ProposalState.STALE:
        raise ProposalStale(
            f"Proposal {proposal_id} is stale; rebase it or submit a new one.",
            current_state=ProposalState.STALE.value,
            allowed_actions=_ALLOWED_ACTIONS[ProposalState.STALE],
        )
    if proposal.state != ProposalState.PENDING:
        raise _illegal(proposal, "approved")
    policy = await get_policy(session, access.workspace_id, config)
    if policy.require_distinct_approver and proposal.sponsor_id == access.principal.id:
        raise SelfApproval(
            "This workspace requires someone other than the person who issued the agent's "
            "token to approve its proposals."
        )
    operations = operations_of(proposal)
    await _lock_targets(session, access, operations)
    inspection = await ops.inspect(session, access, operations)
    if inspection.is_stale:
        stale = [ref.as_json() for ref in inspection.stale]
        proposal.failure = {"stale": stale}
        await _transition(session, proposal, ProposalState.STALE, access.principal)
        raise ProposalStale(
            f"Proposal {proposal_id} is stale: {inspection.stale[0].reason}.",
            current_state=ProposalState.STALE.value,
            allowed_actions=_ALLOWED_ACTIONS[ProposalState.STALE],
            stale=stale,
        )
    proposal.decided_by = access.principal.id
    proposal.decided_at = utcnow()
    await _transition(session, proposal, ProposalState.APPROVED, access.principal)
    await _apply(
        session, access, proposal, operations, access.principal.id, access.principal, config
    )
    return await view(session, access, proposal)


async def reject(
    session: WritableSession, access: WorkspaceAccess, proposal_id: str, reason: str
) -> ProposalView:
    proposal = await _locked(session, access, proposal_id)
    await _expire_if_due(session, proposal)
    if proposal.state not in _UNDECIDED:
        raise _illegal(proposal, "rejected")
    proposal.reason = reason
    proposal.decided_by = access.principal.id
    proposal.decided_at = utcnow()
    await _transition(session, proposal, ProposalState.REJECTED, access.principal, reason=reason)
    return await view(session, access, proposal)


def _check_submitter(proposal: Proposal, principal: Principal) -> None:
    if principal.id != proposal.submitted_by:
        raise NotTheSubmitter(f"Only the submitter of proposal {proposal.id} can do this.")


async def withdraw(
    session: WritableSession, access: WorkspaceAccess, proposal_id: str
) -> ProposalView:
    proposal = await _locked(session, access, proposal_id)
    _check_submitter(proposal, access.principal)
    await _expire_if_due(session, proposal)
    if proposal.state not in _UNDECIDED:
        raise _illegal(proposal, "withdrawn")
    await _transition(session, proposal, ProposalState.WITHDRAWN, access.principal)
    return await view(session, access, proposal)


async def workspaces_with_expired(session: ReadOnlySession) -> list[str]:
    """For the sweeper, an operator command: the only read across workspaces."""
    return await repository.workspaces_with_expired_proposals(session, utcnow())


async def expire_due(session: WritableSession, workspace_id: str, batch: int = 500) -> int:
    """Record the expiry of every proposal past its time; running it again finds none."""
    repository = ProposalRepository(session, workspace_id)
    expired = 0
    for proposal_id in await repository.expired_ids(utcnow(), batch):
        proposal = await repository.get_for_update(proposal_id)
        if proposal is not None and proposal.state in _UNDECIDED:
            await _transition(session, proposal, ProposalState.EXPIRED, EXPIRY_ACTOR)
            expired += 1
    return expired


# --- reverting --------------------------------------------------------------------------


async def revert(
    session: WritableSession,
    access: WorkspaceAccess,
    proposal_id: str,
    force: bool,
) -> ProposalView:
    """Undo an applied proposal with new versions: notes it edited get their earlier content
    back, notes it created go to the trash, links and artifacts it made are removed. Refused
    when a note changed since, unless forced (later edits to those notes are then undone)."""
    proposal = await _locked(session, access, proposal_id)
    await _expire_if_due(session, proposal)
    if proposal.state != ProposalState.APPLIED or proposal.result is None:
        raise _illegal(proposal, "reverted")
    result = proposal.result
    notes = NoteRepository(session, access.workspace_id)
    links = RelationshipRepository(session, access.workspace_id)
    # Every row the revert writes is locked before its first event (see _lock_targets).
    for link_id in sorted(result["relationships_created"]):
        await links.get_for_update(link_id)
    await notes.lock_all(result["notes"].keys())
    changed = []
    for note_id, versions in result["notes"].items():
        note = await notes.get(note_id)
        if note is None or note.version != versions["after"]:
            changed.append(
                {
                    "note_id": note_id,
                    "applied_version": versions["after"],
                    "current_version": note.version if note else None,
                }
            )
    if changed and not force:
        raise RevertConflict(
            f"{len(changed)} note(s) changed since proposal {proposal_id} was applied; "
            "revert with force to undo those changes too.",
            notes=changed,
        )
    reverter = WorkspaceAccess(
        workspace_id=access.workspace_id,
        role=access.role,
        principal=Principal(
            kind=access.principal.kind,
            id=access.principal.id,
            name=access.principal.name,
            proposal_id=proposal.id,
        ),
    )
    await _undo(session, reverter, result)
    await _transition(
        session,
        proposal,
        ProposalState.REVERTED,
        access.principal,
        changes={"forced": audit.change(None, bool(changed))},
    )
    return await view(session, access, proposal)


async def _undo(
    session: WritableSession,
    access: WorkspaceAccess,
    result: dict[str, Any],
) -> None:
    for link_id in result["relationships_created"]:
        with contextlib.suppress(RelationshipNotFound):
            await relationships_service.delete(session, access, link_id)
    for removed in result["relationships_removed"]:
        # Already back, or its notes gone since: nothing to restore.
        with contextlib.suppress(DuplicateRelationship, NoteNotFound, NoteInTrash):
            await relationships_service.create(
                session, access, RelationshipCreate.model_validate(removed)
            )
    for artifact_id in result["artifacts_created"]:
        with contextlib.suppress(ArtifactNotFound):
            await artifacts_service.delete(session, access, artifact_id, None)
    notes = NoteRepository(session, access.workspace_id)
    for note_id, versions in result["notes"].items():
        note = await notes.get(note_id)
        if note is None:
            continue
        if versions["created"]:
            if note.trashed_at is None:
                await notes_service.trash(session, access, note_id, note.version)
            continue
        if note.trashed_at is not None:
            note = await notes_service.restore(session, access, note_id, note.version)
        await notes_service.restore_revision(
            session, access, note_id, versions["before"], note.version
        )


# --- rebasing ---------------------------------------------------------------------------


async def rebase(
    session: WritableSession,
    access: WorkspaceAccess,
    proposal_id: str,
    config: ProposalConfig,
) -> ProposalView:
    """Carry a stale proposal's edits onto the notes as they are now (three-way merge from
    its base versions). A clean merge is a new pending proposal superseding this one, to be
    approved afresh; a conflict changes nothing and names the conflicting lines."""
    proposal = await _locked(session, access, proposal_id)
    if access.principal.kind is PrincipalKind.AGENT:
        _check_submitter(proposal, access.principal)
    await _expire_if_due(session, proposal)
    if proposal.state not in _UNDECIDED:
        raise _illegal(proposal, "rebased")
    operations = operations_of(proposal)
    rebased, conflicts = await _rebased(session, access, operations)
    if conflicts:
        raise MergeConflict(
            f"Proposal {proposal_id} conflicts with later changes in "
            f"{len(conflicts)} place(s); nothing was changed.",
            conflicts=conflicts,
        )
    submitter = Principal(
        kind=PrincipalKind(proposal.submitted_by_kind),
        id=proposal.submitted_by,
        name=proposal.submitted_by,
        workspace_id=access.workspace_id,
    )
    submission = ProposalCreate(
        rationale=proposal.rationale, operations=rebased, supersedes_id=proposal.id
    )
    return await submit(session, access, submission, config, submitter=submitter)


async def _rebased(
    session: WritableSession, access: WorkspaceAccess, operations: list[Operation]
) -> tuple[list[Operation], list[dict[str, Any]]]:
    notes = NoteRepository(session, access.workspace_id)
    revisions = RevisionRepository(session, access.workspace_id)
    rebased: list[Operation] = []
    conflicts: list[dict[str, Any]] = []
    for index, op in enumerate(operations):
        note_id = getattr(op, "note_id", None)
        if isinstance(op, UpdateTaskOp):
            try:
                note_id = (await tasks_service.get(session, access, op.task_id)).note_id
            except TaskNotFound as error:
                conflicts.append({"operation": index, "reason": error.detail})
                continue
        base_version = getattr(op, "base_version", None)
        if note_id is None or base_version is None:
            rebased.append(op)
            continue
        note = await notes.get(note_id)
        if note is None or note.trashed_at is not None:
            conflicts.append({"operation": index, "note_id": note_id, "reason": "note is gone"})
            continue
        if not isinstance(op, UpdateNoteOp):
            rebased.append(op.model_copy(update={"base_version": note.version}))
            continue
        base = await revisions.get_version(note_id, base_version)
        if base is None:
            conflicts.append({"operation": index, "note_id": note_id, "reason": "base is gone"})
            continue
        update: dict[str, Any] = {"base_version": note.version}
        title_changed = op.title is not None and op.title != base.title
        if title_changed and note.title not in (base.title, op.title):
            conflicts.append(
                {
                    "operation": index,
                    "note_id": note_id,
                    "field": "title",
                    "base": base.title,
                    "proposed": op.title,
                    "current": note.title,
                }
            )
        if op.body is not None:
            merged = merge3(base.body, op.body, note.body)
            for conflict in merged.conflicts:
                conflicts.append(
                    {
                        "operation": index,
                        "note_id": note_id,
                        "field": "body",
                        "line": conflict.base_start,
                        "base": list(conflict.base),
                        "proposed": list(conflict.ours),
                        "current": list(conflict.theirs),
                    }
                )
            update["body"] = merged.text
        if op.tags is not None:
            added = [tag for tag in op.tags if tag not in base.tags]
            removed = [tag for tag in base.tags if tag not in op.tags]
            update["tags"] = ops.with_tags_removed(
                ops.with_tags_added(list(note.tags), added), removed
            )
        rebased.append(op.model_copy(update=update))
    return rebased, conflicts
