"""Sortable unique ids: ULIDs, carried as 26-character strings in the API and the database."""

from typing import Annotated

from pydantic import StringConstraints
from ulid import ULID

ID_LENGTH = 26
# Crockford base32 as ULID writes it; checked at the edge so malformed ids never reach a query.
ID_PATTERN = r"^[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}$"

Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]


def new_id() -> str:
    return str(ULID())
