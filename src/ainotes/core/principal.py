"""Who is making a request, as every module sees it (the auth module resolves it)."""

from dataclasses import dataclass, field
from enum import StrEnum


class PrincipalKind(StrEnum):
    USER = "user"
    AGENT = "agent"


@dataclass(frozen=True, slots=True)
class Principal:
    kind: PrincipalKind
    id: str
    name: str
    # Set for agents: the only workspace their tokens work in, and what they may do there.
    workspace_id: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    token_id: str | None = None

    @property
    def is_user(self) -> bool:
        return self.kind is PrincipalKind.USER
