"""Who is making a request, as every module sees it (the auth module resolves it)."""

from dataclasses import dataclass, field
from enum import StrEnum


class PrincipalKind(StrEnum):
    USER = "user"
    AGENT = "agent"
    # The server itself: the CLI, the first-admin bootstrap, users created at first sign-in.
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Principal:
    kind: PrincipalKind
    id: str
    name: str
    # Set for agents: the only workspace their tokens work in, and what they may do there.
    workspace_id: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    token_id: str | None = None
    # Set while a proposal is applied: the agent acts for the person (or policy owner) who
    # approved it, and every version and event it makes names the proposal.
    on_behalf_of: str | None = None
    proposal_id: str | None = None

    @property
    def is_user(self) -> bool:
        return self.kind is PrincipalKind.USER


# Who acts when no request does: audit events of operator commands name this actor.
SYSTEM_PRINCIPAL = Principal(kind=PrincipalKind.SYSTEM, id="system", name="system")
