from ainotes.core.errors import Conflict, Forbidden, NotFound


class WorkspaceNotFound(NotFound):
    slug = "workspace-not-found"
    title = "Workspace not found"


class InsufficientRole(Forbidden):
    slug = "insufficient-role"
    title = "Insufficient role"


class MemberNotFound(NotFound):
    slug = "member-not-found"
    title = "Member not found"


class UserNotFound(NotFound):
    slug = "user-not-found"
    title = "User not found"


class AlreadyMember(Conflict):
    slug = "already-member"
    title = "Already a member"


class LastOwner(Conflict):
    slug = "last-owner"
    title = "A workspace keeps at least one owner"


class AgentWriteForbidden(Forbidden):
    slug = "agent-write-forbidden"
    title = "Agents write through proposals"


class InsufficientScope(Forbidden):
    slug = "insufficient-scope"
    title = "Insufficient scope"


# What any route under a workspace may answer before it does anything: the workspace is not
# one of yours, your role is too low, an agent's scopes do not open it, or agents may not write.
WORKSPACE_ACCESS_ERRORS = (
    WorkspaceNotFound,
    InsufficientRole,
    InsufficientScope,
    AgentWriteForbidden,
)
