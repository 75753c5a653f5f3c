"""Base classes of the API's Pydantic schemas."""

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

ItemT = TypeVar("ItemT")


class Schema(BaseModel):
    """Request and response bodies: unknown fields are errors, ORM objects are accepted."""

    model_config = ConfigDict(extra="forbid", from_attributes=True)


class Page(Schema, Generic[ItemT]):
    items: list[ItemT]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )
