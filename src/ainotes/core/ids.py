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


def new_id() -> str:
    """A ULID: 48 bits of milliseconds, then 80 random bits, in 26 Crockford base32 digits.

    Encoded with the C base32 codec, because every request gets one: the 128 bits are laid
    out as 130 (two leading zero bits, as ULID's first digit carries only three), padded to
    whole bytes, and the first 26 digits kept."""
    return encode((time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big"))


def encode(value: int) -> str:
    """A 128-bit value as ULID writes it."""
    return base64.b32encode((value << 6).to_bytes(17, "big"))[:26].translate(_CROCKFORD).decode()
