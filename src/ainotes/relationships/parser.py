"""Wikilinks in markdown: ``[[Title]]``, ``[[Title|alias]]``, ``[[Title#Heading]]``.

Pure functions, no I/O. Text inside fenced code blocks and inline code spans is not searched.
Indented code blocks are not recognised on purpose: list items continue with indented lines,
and treating those as code would hide links people clearly meant.
"""

import re
import unicodedata
from dataclasses import dataclass

# A note title is at most 300 characters, so a longer target can never resolve; not a link.
MAX_TARGET_CHARS = 300
# Bounds the rows one note write can produce; later distinct links in the body are ignored.
MAX_LINKS_PER_NOTE = 1000
# A backlink shows its line; past this the sentence around the link is cut to this size.
MAX_CONTEXT_CHARS = 280

_WHITESPACE = re.compile(r"\s+")
# No brackets or line breaks inside, so "[[a [[b]] c]]" yields the innermost "[[b]]".
_WIKILINK = re.compile(r"\[\[([^\[\]\n]*)\]\]")
# CommonMark fences: up to three spaces of indent, then three or more backticks or tildes.
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_BACKTICKS = re.compile(r"`+")
_SENTENCE_END = re.compile(r"[.!?](?:\s+|$)")


@dataclass(frozen=True, slots=True)
class WikiLink:
    title: str  # normalized as written: NFC, single spaces, trimmed
    key: str  # what resolution compares: the case-folded title
    alias: str | None
    heading: str | None
    context: str  # the line (or, for long lines, the sentence) the link appears in


def normalize_title(raw: str) -> str:
    """Titles and link targets compare after NFC, trimming and collapsing whitespace."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFC", raw)).strip()


def title_key(raw: str) -> str:
    """The case-insensitive key of a title; ``casefold`` also folds ß, ﬁ and Greek sigma,
    which SQL ``lower()`` does not on SQLite."""
    return normalize_title(raw).casefold()


def parse_links(markdown: str) -> list[WikiLink]:
    """The distinct wikilinks of a body, in order of first appearance (one per target key)."""
    links: dict[str, WikiLink] = {}
    for line, masked in _searchable_lines(markdown):
        for match in _WIKILINK.finditer(masked):
            link = _link_from(match.group(1), line, match.start(), match.end())
            if link is None or link.key in links:
                continue
            links[link.key] = link
            if len(links) >= MAX_LINKS_PER_NOTE:
                return list(links.values())
    return list(links.values())


def _link_from(inner: str, line: str, start: int, end: int) -> WikiLink | None:
    target, _, alias = inner.partition("|")
    title, hash_sign, heading = target.partition("#")
    title = normalize_title(title)
    if not title or len(title) > MAX_TARGET_CHARS:
        # "[[]]", "[[#Heading]]" (a heading of the same note) and oversized targets.
        return None
    return WikiLink(
        title=title,
        key=title.casefold(),
        alias=normalize_title(alias) or None,
        heading=(normalize_title(heading) or None) if hash_sign else None,
        context=_context(line, start, end),
    )


def _searchable_lines(markdown: str) -> list[tuple[str, str]]:
    """Each line outside fenced code, paired with a copy whose code spans are blanked out.

    Blanking (rather than removing) keeps offsets, so that the context is cut from the
    original line. Code spans are matched within a paragraph, as CommonMark does.
    """
    result: list[tuple[str, str]] = []
    paragraph: list[str] = []
    fence: str | None = None
    for line in markdown.splitlines():
        if fence is not None:
            stripped = line.lstrip(" ")
            closing = _FENCE.match(line)
            if (
                closing is not None
                and closing.group(1)[0] == fence[0]
                and len(closing.group(1)) >= len(fence)
                and not stripped[len(closing.group(1)) :].strip()
            ):
                fence = None
            continue
        opening = _FENCE.match(line)
        # A backtick fence's info string may not contain backticks (CommonMark 4.5).
        if opening is not None and not (
            opening.group(1)[0] == "`" and "`" in line[opening.end() :]
        ):
            result.extend(_mask_code_spans(paragraph))
            paragraph = []
            fence = opening.group(1)
            continue
        if not line.strip():
            result.extend(_mask_code_spans(paragraph))
            paragraph = []
            continue
        paragraph.append(line)
    # An unclosed fence runs to the end of the document, so its lines are never searched.
    result.extend(_mask_code_spans(paragraph))
    return result


def _mask_code_spans(lines: list[str]) -> list[tuple[str, str]]:
    if not lines:
        return []
    text = "\n".join(lines)
    masked = list(text)
    runs = list(_BACKTICKS.finditer(text))
    index = 0
    while index < len(runs):
        opening = runs[index]
        width = len(opening.group())
        closing_index = next(
            (j for j in range(index + 1, len(runs)) if len(runs[j].group()) == width), None
        )
        if closing_index is None:
            # An unmatched backtick run is literal text (CommonMark 6.1).
            index += 1
            continue
        closing = runs[closing_index]
        for position in range(opening.start(), closing.end()):
            if masked[position] != "\n":
                masked[position] = " "
        index = closing_index + 1
    return list(zip(lines, "".join(masked).split("\n"), strict=True))


def _context(line: str, start: int, end: int) -> str:
    """The line around a link; for a long line, the sentence holding it, cut to size."""
    if len(line.strip()) <= MAX_CONTEXT_CHARS:
        return line.strip()
    sentence_start = 0
    for boundary in _SENTENCE_END.finditer(line, 0, start):
        sentence_start = boundary.end()
    following = _SENTENCE_END.search(line, end)
    sentence_end = following.end() if following else len(line)
    sentence = line[sentence_start:sentence_end].strip()
    if len(sentence) <= MAX_CONTEXT_CHARS:
        return sentence
    # Still too long: a window centred on the link, marked as cut on each side it was cut.
    link_middle = (start + end) // 2
    window_start = max(sentence_start, link_middle - MAX_CONTEXT_CHARS // 2)
    window_end = min(sentence_end, window_start + MAX_CONTEXT_CHARS)
    window_start = max(sentence_start, window_end - MAX_CONTEXT_CHARS)
    clipped = line[window_start:window_end].strip()
    prefix = "…" if window_start > sentence_start else ""
    suffix = "…" if window_end < sentence_end else ""
    return f"{prefix}{clipped}{suffix}"
