from ainotes.core.errors import Conflict, Forbidden, NotFound, ValidationFailed


class AgentNotFound(NotFound):
    slug = "agent-not-found"
    title = "Agent not found"


class AgentTokenNotFound(NotFound):
    slug = "agent-token-not-found"
    title = "Agent token not found"


class ProposalNotFound(NotFound):
    slug = "proposal-not-found"
    title = "Proposal not found"


class IllegalTransition(Conflict):
    slug = "illegal-transition"
    title = "Not possible in the proposal's current state"


class ProposalStale(Conflict):
    """The proposal is recorded as stale before this is raised, and that is kept."""

    slug = "proposal-stale"
    title = "The proposal is stale"
    commits_transaction = True


class ProposalExpired(Conflict):
    slug = "proposal-expired"
    title = "The proposal has expired"
    commits_transaction = True


class ProposalApplyFailed(Conflict):
    slug = "proposal-apply-failed"
    title = "The proposal could not be applied"
    commits_transaction = True


class ProposalSchemaUnsupported(Conflict):
    slug = "proposal-schema-unsupported"
    title = "The proposal was written for another version of the operations"


class RevertConflict(Conflict):
    slug = "revert-conflict"
    title = "Notes changed since the proposal was applied"


class MergeConflict(Conflict):
    slug = "merge-conflict"
    title = "The proposal's edits conflict with later changes"


class InvalidOperation(ValidationFailed):
    slug = "invalid-operation"
    title = "An operation of the proposal is not valid"


class NotTheSubmitter(Forbidden):
    slug = "not-the-submitter"
    title = "Only the submitter can do this"


class SelfApproval(Forbidden):
    slug = "approver-not-distinct"
    title = "Someone else must approve this proposal"
