from datetime import datetime
from typing import Annotated, Self

from pydantic import ConfigDict, StringConstraints, model_validator

from ainotes.auth.schemas import Username
from ainotes.core.ids import Id
from ainotes.core.schemas import Schema, given_and_not_null
from ainotes.workspaces.models import Role

WorkspaceName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
]
Description = Annotated[str, StringConstraints(max_length=5000)]


class WorkspaceCreate(Schema):
    name: WorkspaceName
    description: Description = ""


class WorkspaceUpdate(Schema):
    name: WorkspaceName | None = None
    description: Description | None = None


class WorkspaceRead(Schema):
    id: str
    name: str
    description: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    role: Role


class MemberCreate(Schema):
    """Name the new member by ``user_id`` or by ``username``."""

    model_config = ConfigDict(
        json_schema_extra=given_and_not_null("oneOf", {"user_id": "string", "username": "string"})
    )

    user_id: Id | None = None
    username: Username | None = None
    role: Role

    @model_validator(mode="after")
    def _one_identifier(self) -> Self:
        if (self.user_id is None) == (self.username is None):
            raise ValueError("give exactly one of user_id and username")
        return self


class MemberUpdate(Schema):
    role: Role


class MemberRead(Schema):
    user_id: str
    username: str
    display_name: str
    role: Role
    created_at: datetime
