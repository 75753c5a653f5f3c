"""Response headers as the OpenAPI document describes them: a route names the ones it sets
(``responses={**sets_headers(201, "ETag", "Location")}``); those every response or every
write carries are added to the whole document by the application."""

from typing import Any

RESPONSE_HEADERS: dict[str, dict[str, Any]] = {
    "ETag": {
        "description": 'The version read or written, as an entity tag (e.g. `"7"`): send it '
        "back in If-Match to change the resource only if it has not changed since.",
        "schema": {"type": "string"},
    },
    "Location": {
        "description": "The path of the resource created.",
        "schema": {"type": "string"},
    },
    "Content-Range": {
        "description": "The bytes of the file this response holds, and its size.",
        "schema": {"type": "string"},
    },
    "X-Request-ID": {
        "description": "This request's id, as in the logs and in any problem.",
        "schema": {"type": "string"},
    },
    "X-Correlation-ID": {
        "description": "The X-Correlation-ID the request carried, if it carried one.",
        "schema": {"type": "string"},
    },
    "WWW-Authenticate": {
        "description": "The authentication scheme to use: `Bearer`.",
        "schema": {"type": "string"},
    },
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    "Idempotent-Replayed": {
        "description": "On a write that carried an Idempotency-Key: `true` when this is the "
        "stored response of an earlier request with the same key, `false` when the write "
        "happened now.",
        "schema": {"type": "string", "enum": ["true", "false"]},
    },
}
# Present on every response that names them (the others only when the request asked).
_ALWAYS = {"ETag", "Location", "Content-Range", "X-Request-ID", "WWW-Authenticate"}


def header_docs(*names: str) -> dict[str, dict[str, Any]]:
    return {name: {**RESPONSE_HEADERS[name], "required": name in _ALWAYS} for name in names}


def sets_headers(status: int, *names: str) -> dict[int | str, dict[str, Any]]:
    """For a route's ``responses=``: the headers its ``status`` response always carries."""
    return {status: {"headers": header_docs(*names)}}
