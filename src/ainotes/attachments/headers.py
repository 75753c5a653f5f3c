"""The HTTP header grammar attachments need: Range (RFC 9110 §14), Content-Disposition
(RFC 6266 with RFC 8187 ``filename*``), and cleaning client file names into metadata."""

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote, unquote

MAX_FILENAME_CHARS = 255
DEFAULT_FILENAME = "attachment"

_BYTE_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)
_RANGE_UNIT = re.compile(r"^\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*=")
_EXT_FILENAME = re.compile(r"filename\*\s*=\s*([^;]+)", re.IGNORECASE)
_PLAIN_FILENAME = re.compile(r'filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))', re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ASCII_UNSAFE = re.compile(r"[^A-Za-z0-9!#$&+.^_`|~ ()\[\]{}@,=-]")


class UnsatisfiableRange(Exception):
    """The Range header asks for bytes the representation does not have (→ 416)."""


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The single byte range asked for, or None to send the whole representation.

    A unit other than bytes, or a list of ranges, is ignored (RFC 9110 lets a server ignore
    Range and answer 200); a malformed or unsatisfiable bytes range raises.
    """
    if header is None:
        return None
    unit = _RANGE_UNIT.match(header)
    if unit is None or unit.group(1).lower() != "bytes":
        return None
    if "," in header:
        return None
    match = _BYTE_RANGE.match(header)
    if match is None:
        raise UnsatisfiableRange("malformed byte range")
    first, last = match.group(1), match.group(2)
    if first == "" and last == "":
        raise UnsatisfiableRange("malformed byte range")
    if first == "":
        # Suffix range: the last N bytes.
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise UnsatisfiableRange("empty suffix range")
        return ByteRange(max(0, size - suffix), size - 1)
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if last != "" and int(last) < start:
        raise UnsatisfiableRange("range ends before it starts")
    if start >= size:
        raise UnsatisfiableRange("range starts past the end")
    return ByteRange(start, end)


def filename_from_content_disposition(header: str | None) -> str | None:
    """The file name of a Content-Disposition header, preferring the RFC 8187 form."""
    if not header:
        return None
    extended = _EXT_FILENAME.search(header)
    if extended is not None:
        charset, _, rest = extended.group(1).strip().partition("'")
        _, _, encoded = rest.partition("'")
        if charset.lower() in ("utf-8", "iso-8859-1") and encoded:
            return unquote(encoded.strip(), encoding=charset.lower(), errors="replace")
    plain = _PLAIN_FILENAME.search(header)
    if plain is not None:
        quoted, token = plain.group(1), plain.group(2)
        return re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else token
    return None


def clean_filename(raw: str | None) -> str:
    """A client's file name as metadata: NFC, no control characters, bounded length. It is
    kept otherwise as sent (``../../etc/passwd`` included) and never used as a path."""
    if raw is None:
        return DEFAULT_FILENAME
    name = _CONTROL.sub("", unicodedata.normalize("NFC", raw)).strip()
    return name[:MAX_FILENAME_CHARS] or DEFAULT_FILENAME


def content_disposition(filename: str, *, inline: bool) -> str:
    """A Content-Disposition value that is safe to send whatever the stored name is: only the
    last path segment, an ASCII fallback, and the full name in RFC 8187 form."""
    base = re.split(r"[/\\]", filename)[-1].strip().lstrip(".") or DEFAULT_FILENAME
    ascii_name = _ASCII_UNSAFE.sub("_", base) or DEFAULT_FILENAME
    kind = "inline" if inline else "attachment"
    value = f'{kind}; filename="{ascii_name}"'
    if ascii_name != base:
        value += f"; filename*=UTF-8''{quote(base, safe='')}"
    return value


def etag_matches(header: str | None, etag: str) -> bool:
    """If-None-Match / If-Range comparison (weak for If-None-Match, which is all we use it
    for besides exact If-Range matches of our strong tags)."""
    if header is None:
        return False
    if header.strip() == "*":
        return True
    candidates = [part.strip().removeprefix("W/") for part in header.split(",")]
    return etag in candidates
