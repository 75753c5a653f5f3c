"""Base classes of the API's Pydantic schemas."""

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

ItemT = TypeVar("ItemT")


def _in_utc(instant: datetime) -> datetime:
    try:
        return instant.astimezone(UTC)
    except OverflowError:
        raise ValueError("The instant is out of range once converted to UTC.") from None


UtcInstant = Annotated[AwareDatetime, AfterValidator(_in_utc)]
"""An instant from a client, with its UTC offset, converted to UTC; one that UTC cannot hold
(year 1 at +14:00) is a validation error rather than an overflow in the database layer."""


def given_and_not_null(how_many: Literal["anyOf", "oneOf"], types: Mapping[str, str]) -> Any:
    """JSON Schema for a model whose validator needs at least one (``anyOf``) or exactly one
    (``oneOf``) of these fields given and not null; ``types`` names each one's JSON type. For
    ``json_schema_extra``, so that the document says what the validator checks."""
    return {
        how_many: [
            {"required": [name], "properties": {name: {"type": json_type}}}
            for name, json_type in types.items()
        ]
    }


class Schema(BaseModel):
    """Request and response bodies: unknown fields are errors, ORM objects are accepted."""

    # allow_inf_nan=False: JSON has no infinity (Python reads 1e999 as one); stored, it would
    # come back as null.
    model_config = ConfigDict(extra="forbid", from_attributes=True, allow_inf_nan=False)


class StoredJsonSchema(Schema):
    """A response that shows JSON clients wrote: a number that is not finite, stored before
    requests had to hold finite ones, reads back as null instead of failing the response."""

    model_config = ConfigDict(allow_inf_nan=True)


class Page(Schema, Generic[ItemT]):
    items: list[ItemT]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )
