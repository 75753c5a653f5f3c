"""Content types from the first bytes of a file, and the type an attachment is served with.

A small magic-number table for the formats people attach to notes; anything else is
"unknown" rather than guessed. The declared type is kept as sent, but the served type prefers
what the bytes say, so that a file cannot turn into HTML or script by claiming to be it.
"""

import re

# Enough for every signature below and for a fair plain-text check.
SNIFF_BYTES = 512

OCTET_STREAM = "application/octet-stream"
TEXT_PLAIN = "text/plain"
ZIP = "application/zip"

# (offset, signature, type), checked in order.
_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"%PDF-", "application/pdf"),
    (0, b"PK\x03\x04", ZIP),
    (0, b"PK\x05\x06", ZIP),
    (0, b"\x1f\x8b", "application/gzip"),
    (0, b"ID3", "audio/mpeg"),
    (0, b"OggS", "audio/ogg"),
    (0, b"fLaC", "audio/flac"),
    (0, b"\x1a\x45\xdf\xa3", "video/webm"),
)
# MPEG audio frame sync without an ID3 tag (MPEG-1/2 layer III).
_MP3_FRAME = (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")
# ISO base media (MP4 family): the brand after "ftyp" tells audio from video.
_MP4_AUDIO_BRANDS = {b"M4A ", b"M4B "}
_QUICKTIME_BRANDS = {b"qt  "}

# Declared types that refine a sniffed container or text type without changing its risk.
_ZIP_BASED = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
    "application/epub+zip",
    "application/java-archive",
}
_TEXT_BASED = {
    "text/markdown",
    "text/x-markdown",
    "text/csv",
    "text/tab-separated-values",
    "text/calendar",
    "text/vcard",
    "application/json",
    "application/x-ndjson",
    "application/yaml",
    "application/x-yaml",
    "text/yaml",
    "text/x-python",
    "application/x-tex",
}
# Types a browser would execute or render as active content; never served as such.
_ACTIVE = {
    "text/html",
    "application/xhtml+xml",
    "image/svg+xml",
    "text/xml",
    "application/xml",
    "text/javascript",
    "application/javascript",
    "application/ecmascript",
    "text/ecmascript",
}
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")


def sniff(head: bytes) -> str | None:
    """The content type the first bytes show, or None when they match nothing known."""
    for offset, signature, media_type in _MAGIC:
        if head[offset : offset + len(signature)] == signature:
            return media_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _MP4_AUDIO_BRANDS:
            return "audio/mp4"
        if brand in _QUICKTIME_BRANDS:
            return "video/quicktime"
        return "video/mp4"
    if head[:2] in _MP3_FRAME:
        return "audio/mpeg"
    if head and _looks_like_text(head):
        return TEXT_PLAIN
    return None


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        # The prefix may cut a multi-byte character in two; only an error there is forgiven.
        if error.start < len(head) - 3:
            return False
    controls = sum(1 for b in head if b < 0x20 and b not in b"\t\n\r\f\x1b")
    return controls * 100 <= len(head)


def normalize_declared(value: str | None) -> str | None:
    """The media type of a Content-Type header (parameters dropped), or None if malformed."""
    if value is None:
        return None
    media_type = value.split(";", 1)[0].strip().lower()
    return media_type if _MEDIA_TYPE.match(media_type) else None


def served_type(declared: str | None, sniffed: str | None) -> str:
    """What the content is served as: the bytes decide; a declared type may only refine a
    container or text type into a more specific, equally inert one."""
    if (
        sniffed == ZIP
        and declared is not None
        and (declared in _ZIP_BASED or declared.endswith("+zip"))
    ):
        return declared
    if sniffed == TEXT_PLAIN:
        refines = (
            declared is not None
            and declared not in _ACTIVE
            and (declared in _TEXT_BASED or declared.startswith("text/"))
        )
        return f"{declared if refines else TEXT_PLAIN}; charset=utf-8"
    if sniffed is not None:
        return sniffed
    if declared is not None and declared not in _ACTIVE and not declared.startswith("text/"):
        return declared
    return OCTET_STREAM
