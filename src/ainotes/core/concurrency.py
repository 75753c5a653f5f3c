"""ETags and If-Match for optimistic concurrency on versioned resources."""

import re
from typing import Annotated

from fastapi import Depends, Header

from ainotes.core.errors import BadRequest, PreconditionFailed

# A weak tag (W/"7") is taken as the version it names, although RFC 9110 has If-Match compare
# strongly: proxies that compress responses (nginx's gzip) weaken the ETags they pass on, and
# a client behind one has no other tag to send. These tags are version numbers, not hashes of
# bytes, so W/"7" names version 7 exactly as "7" does.
# ASCII digits and HTTP's own whitespace (space, tab) only, written alike in Python and in the
# document's ECMA dialect, whose \d and \s differ from Python's; matched in full, as ECMA's $
# does not match before a final newline and Python's does.
_ETAG = re.compile(r'^(?:W/)?"([0-9]{1,18})"$')
_IF_MATCH_PATTERN = r'^[ \t]*(\*|(W/)?"[0-9]{1,18}")[ \t]*$'


class InvalidIfMatch(BadRequest):
    slug = "invalid-if-match"
    title = "Invalid If-Match header"


class StaleVersion(PreconditionFailed):
    slug = "stale-version"
    title = "The resource has changed"


def etag_for(version: int) -> str:
    return f'"{version}"'


def expected_version(
    if_match: Annotated[
        str | None,
        Header(
            description='The ETag from a previous read (e.g. `"7"`): the write happens only if '
            "the resource is still at that version, else 412.",
            # Documented only: a value of another form is refused below with its own 400.
            json_schema_extra={"pattern": _IF_MATCH_PATTERN},
        ),
    ] = None,
) -> int | None:
    if if_match is None:
        return None
    value = if_match.strip(" \t")
    if value == "*":
        return None
    match = _ETAG.fullmatch(value)
    if match is None:
        raise InvalidIfMatch('If-Match must be one ETag as this API sends them, like "7".')
    return int(match.group(1))


# The version an If-Match header asks for, or None when the client sent none (or "*").
ExpectedVersion = Annotated[int | None, Depends(expected_version)]


def check_version(resource: str, current: int, expected: int | None) -> None:
    if expected is not None and expected != current:
        raise StaleVersion(
            f"The {resource} is at version {current}, not {expected}; read it again and retry.",
            current_version=current,
        )
