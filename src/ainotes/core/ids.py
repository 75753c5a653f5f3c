"""Sortable unique ids: ULIDs, carried as 26-character strings in the API and the database."""

import base64
import os
import time
from typing import Annotated

from pydantic import StringConstraints

ID_LENGTH = 26
# Crockford base32 as ULID writes it; checked at the edge so malformed ids never reach a query.
ID_PATTERN = r"^[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}$"

Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]


# RFC 4648 base32 to Crockford's, the alphabet ULID writes.
_CROCKFORD = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", b"0123456789ABCDEFGHJKMNPQRSTVWXYZ"
)


# The last id made in this process, as an integer.
_last = [0]


def new_id() -> str:
    """A ULID: 48 bits of milliseconds, then 80 random bits, in 26 Crockford base32 digits.

    Monotonic within the process, as ULID's spec describes: an id made in the same millisecond
    as the previous one is that one plus one, so rows written in one transaction keep their
    order by id. Encoded with the C base32 codec, because every request gets one."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    if value >> 80 == _last[0] >> 80 and value <= _last[0]:
        value = _last[0] + 1
    _last[0] = value
    return encode(value)


def encode(value: int) -> str:
    """A 128-bit value as ULID writes it: laid out as 130 bits (two leading zero bits, as
    ULID's first digit carries only three), padded to whole bytes, the first 26 digits kept."""
    return base64.b32encode((value << 6).to_bytes(17, "big"))[:26].translate(_CROCKFORD).decode()
