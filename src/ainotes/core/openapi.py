"""Response headers as the OpenAPI document describes them: a route names the ones it sets
(``responses={**sets_headers(201, "ETag", "Location")}``); those every response or every
write carries are added to the whole document by the application."""

from typing import Any


def _text(description: str, **schema: Any) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "string", **schema}}


RESPONSE_HEADERS: dict[str, dict[str, Any]] = {
    "ETag": _text(
        "The entity tag of what was read or written. For a note, task or artifact, its version "
        '(e.g. `"7"`): send it back in If-Match to change it only if it has not changed '
        "since. For an attachment, its file's sha256, for If-None-Match and If-Range."
    ),
    "Location": _text("The path of the resource created."),
    "Content-Range": _text("The bytes of the file this response holds, and its size."),
    "X-Request-ID": _text("This request's id, as in the logs and in any problem."),
    "X-Correlation-ID": _text("The X-Correlation-ID the request carried, if it carried one."),
    "WWW-Authenticate": _text("The authentication scheme to use: `Bearer`."),
    "Retry-After": _text("Seconds to wait before retrying.", pattern="^[0-9]+$"),
    "Idempotent-Replayed": _text(
        "On a write that carried an Idempotency-Key: `true` when this is the stored response "
        "of an earlier request with the same key, `false` when the write happened now.",
        enum=["true", "false"],
    ),
}
# Present on every response that names them (the others only when the request asked).
_ALWAYS = {"ETag", "Location", "Content-Range", "X-Request-ID", "WWW-Authenticate"}


def header_docs(*names: str) -> dict[str, dict[str, Any]]:
    return {name: {**RESPONSE_HEADERS[name], "required": name in _ALWAYS} for name in names}


def sets_headers(status: int, *names: str) -> dict[int | str, dict[str, Any]]:
    """For a route's ``responses=``: the headers its ``status`` response always carries."""
    return {status: {"headers": header_docs(*names)}}
