"""Sortable unique ids: ULIDs, carried as 26-character strings in the API and the database."""

import os
import time
from typing import Annotated

from pydantic import StringConstraints

ID_LENGTH = 26
# Crockford base32 as ULID writes it; checked at the edge so malformed ids never reach a query.
ID_PATTERN = r"^[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}$"

Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]


# Crockford base32, the alphabet ULID writes, as every pair of digits (10 bits each), so that
# an id is 13 lookups: Python 3.11's base64.b32encode is written in Python, bit by bit.
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_DIGIT_PAIRS = [first + second for first in _CROCKFORD for second in _CROCKFORD]
_PAIR_SHIFTS = tuple(range(120, -1, -10))


# The last id made in this process, as an integer.
_last = [0]


def new_id() -> str:
    """A ULID: 48 bits of milliseconds, then 80 random bits, in 26 Crockford base32 digits.

    Monotonic within the process, as ULID's spec describes: an id made in the same millisecond
    as the previous one is that one plus one, so rows written in one transaction keep their
    order by id."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    if value >> 80 == _last[0] >> 80 and value <= _last[0]:
        value = _last[0] + 1
    _last[0] = value
    return encode(value)


def encode(value: int) -> str:
    """A 128-bit value as ULID writes it: 26 digits of 5 bits, the first of which carries
    only the top three bits (130 bits in all, the two highest zero)."""
    return "".join([_DIGIT_PAIRS[(value >> shift) & 0x3FF] for shift in _PAIR_SHIFTS])
