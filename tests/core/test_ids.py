"""Ids are ULIDs: 26 Crockford base32 digits, time first, so that they sort by creation."""

import re
import time
from datetime import UTC, datetime

from ulid import ULID

from ainotes.core.ids import ID_PATTERN, encode, new_id

CROCKFORD_ULID = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")


def test_ids_are_ulids_of_now() -> None:
    before = datetime.now(UTC)
    value = new_id()
    after = datetime.now(UTC)

    assert CROCKFORD_ULID.match(value)
    assert re.match(ID_PATTERN, value)
    # A reference implementation reads the same timestamp back.
    stamped = ULID.from_str(value).datetime
    assert before.replace(microsecond=before.microsecond // 1000 * 1000) <= stamped <= after


def test_later_ids_sort_after_earlier_ones() -> None:
    first = new_id()
    time.sleep(0.002)
    assert new_id() > first


def test_ids_made_in_one_millisecond_keep_their_order() -> None:
    ids = [new_id() for _ in range(2_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_ids_do_not_repeat() -> None:
    ids = {new_id() for _ in range(20_000)}
    assert len(ids) == 20_000


def test_the_encoding_is_ulids() -> None:
    # Against a reference implementation, over random values and the extremes.
    values = [int(ULID()) for _ in range(500)] + [0, 1, 2**128 - 1, 2**80, 2**127]
    for value in values:
        assert encode(value) == str(ULID.from_int(value))
