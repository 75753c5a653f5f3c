"""Opaque keyset cursors: stable under concurrent inserts, and as fast on page 1,000 as on page 1.

A cursor is the sort key of the last row of a page plus the name of the ordering it belongs to,
base64url-encoded JSON. Clients treat it as opaque; a cursor from another ordering is refused.
"""

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, TypeVarTuple

from sqlalchemy import BigInteger, Integer, Select, TypeDecorator, bindparam, tuple_
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.types import TypeEngine

from ainotes.core.errors import BadRequest

T = TypeVar("T")
RowTs = TypeVarTuple("RowTs")


class InvalidCursor(BadRequest):
    slug = "invalid-cursor"
    title = "Invalid cursor"


@dataclass(frozen=True)
class Ordering:
    """A total order for keyset pagination: a sort column, then the id to break ties."""

    name: str
    column: InstrumentedAttribute[Any]
    id_column: InstrumentedAttribute[str]
    descending: bool

    def key_of(self, row: Any) -> list[Any]:
        """The sort key of a row: an object with the columns as attributes, or a dict."""
        if isinstance(row, dict):
            return [row[self.column.key], row[self.id_column.key]]
        return [getattr(row, self.column.key), getattr(row, self.id_column.key)]


def encode_cursor(ordering: Ordering, key: Sequence[Any]) -> str:
    values = [v.isoformat() if isinstance(v, datetime) else v for v in key]
    raw = json.dumps({"o": ordering.name, "k": values}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(ordering: Ordering, cursor: str) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
        if not isinstance(payload, dict) or payload.get("o") != ordering.name:
            raise ValueError("cursor belongs to another ordering")
        key = payload["k"]
        if not isinstance(key, list) or len(key) != 2 or not isinstance(key[1], str):
            raise ValueError("malformed key")
        column_type = ordering.column.type
        if isinstance(column_type, TypeDecorator):
            column_type = column_type.impl_instance
        return [_sort_value(column_type, key[0]), key[1]]
    except (
        ValueError,
        TypeError,
        KeyError,
        OverflowError,
        binascii.Error,
        UnicodeDecodeError,
        NotImplementedError,
    ):
        raise InvalidCursor(
            "The cursor is not one this listing issued; start again without it."
        ) from None


def _sort_value(column_type: TypeEngine[Any], value: Any) -> Any:
    """The cursor's sort value, checked against the column's type, so that a forged cursor is
    a 400 here rather than a type error or an overflow in the database."""
    python_type = column_type.python_type
    if issubclass(python_type, datetime):
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("a cursor carries timezone-aware times only")
        return parsed.astimezone(UTC)
    if issubclass(python_type, int):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError("an integer sort key was expected")
        bits = 63 if isinstance(column_type, BigInteger) else 31
        if not -(2**bits) <= value < 2**bits:
            raise ValueError("the integer sort key is out of the column's range")
    if issubclass(python_type, str) and not isinstance(value, str):
        raise ValueError("a string sort key was expected")
    return value


def paginate_bound(statement: Select[*RowTs], ordering: Ordering, after: bool) -> Select[*RowTs]:
    """``paginate`` with the cursor's key and the limit left as parameters, for a statement
    built once and run many times: ``after`` says whether it starts after a cursor, and
    ``bound_page_parameters`` gives the values."""
    sort_key = tuple_(ordering.column, ordering.id_column)
    if after:
        bound = tuple_(
            bindparam("after_sort", type_=ordering.column.type),
            bindparam("after_id", type_=ordering.id_column.type),
        )
        statement = statement.where(sort_key < bound if ordering.descending else sort_key > bound)
    return _ordered(statement, ordering).limit(bindparam("page_rows", type_=Integer))


def bound_page_parameters(ordering: Ordering, cursor: str | None, limit: int) -> dict[str, Any]:
    """The parameters of a ``paginate_bound`` statement."""
    parameters: dict[str, Any] = {"page_rows": limit + 1}
    if cursor is not None:
        parameters["after_sort"], parameters["after_id"] = decode_cursor(ordering, cursor)
    return parameters


def paginate(
    statement: Select[*RowTs], ordering: Ordering, cursor: str | None, limit: int
) -> Select[*RowTs]:
    """Order by ``ordering``, start after ``cursor``, and fetch one row more than ``limit``."""
    sort_key = tuple_(ordering.column, ordering.id_column)
    if cursor is not None:
        after = tuple_(*decode_cursor(ordering, cursor))
        statement = statement.where(sort_key < after if ordering.descending else sort_key > after)
    return _ordered(statement, ordering).limit(limit + 1)


def _ordered(statement: Select[*RowTs], ordering: Ordering) -> Select[*RowTs]:
    if ordering.descending:
        return statement.order_by(ordering.column.desc(), ordering.id_column.desc())
    return statement.order_by(ordering.column.asc(), ordering.id_column.asc())


def page_of(
    rows: Sequence[T],
    ordering: Ordering,
    limit: int,
    key: Callable[[T], Any] | None = None,
) -> tuple[list[T], str | None]:
    """Split the ``limit + 1`` rows a paginated query returned into a page and the next cursor.

    ``key`` picks the object that carries the sort columns out of a row, when it is not the row.
    """
    items = list(rows[:limit])
    next_cursor = None
    if len(rows) > limit:
        last = items[-1] if key is None else key(items[-1])
        next_cursor = encode_cursor(ordering, ordering.key_of(last))
    return items, next_cursor
