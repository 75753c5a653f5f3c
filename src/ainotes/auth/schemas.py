from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints

from ainotes.core.schemas import Schema

# Pydantic checks the pattern before lowering the case, so the pattern admits capitals.
Username = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_lower=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
    ),
]
TokenName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class UserRead(Schema):
    id: str
    username: str
    display_name: str
    is_admin: bool
    created_at: datetime


class TokenCreate(Schema):
    name: TokenName
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class TokenRead(Schema):
    id: str
    name: str
    token_prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenRead):
    token: str = Field(description="The secret. It is shown only in this response.")


class Scope(StrEnum):
    """What an agent token allows. A read scope is named after the API section (the OpenAPI
    tag) it opens; ``proposals:write`` is the only write an agent can make."""

    WORKSPACES_READ = "workspaces:read"
    NOTES_READ = "notes:read"
    RELATIONSHIPS_READ = "relationships:read"
    TASKS_READ = "tasks:read"
    ARTIFACTS_READ = "artifacts:read"
    ATTACHMENTS_READ = "attachments:read"
    SEARCH_READ = "search:read"
    PROPOSALS_READ = "proposals:read"
    PROPOSALS_WRITE = "proposals:write"


def read_scope_of(section: str) -> Scope | None:
    """The scope that opens the reading routes of an API section, if agents may read it."""
    try:
        return Scope(f"{section}:read")
    except ValueError:
        return None
