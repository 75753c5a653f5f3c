"""Markdown task items, read from and written back to note bodies. Pure: no I/O, no database.

What counts as a task item: a list item (``-``, ``*``, ``+``, ``1.`` or ``1)``) whose text starts
with a checkbox (``[ ]``, ``[x]`` or ``[X]``) followed by whitespace and some text, outside
fenced code blocks, also inside blockquotes (``> - [ ] call Bob``, ``> > 1. [x] done``), whose
``>`` markers a write-back keeps as written. Inline extras are read from the text the way
people write them: a due date (``📅 2026-12-01`` or ``due:2026-12-01``; an impossible date is
left as plain words), ``#tags`` and ``@assignees``.

The task's ``text`` is the item's text without its due-date tokens: a date is metadata, while
tags and mentions are words of the sentence ("call @bob about #budget") and stay in it.
"""

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

# Tabs advance to the next multiple of four columns, as CommonMark counts them.
TAB_WIDTH = 4
# Longer tags or names are almost certainly not meant as one (a URL fragment, a pasted hash).
MAX_LABEL_LENGTH = 100

_ITEM = re.compile(
    r"^(?P<prefix>(?P<indent>[ \t]*)(?P<marker>[-*+]|\d{1,9}[.)])[ \t]+\[)(?P<check>[ xX])"
    r"(?P<close>\][ \t]+)(?P<content>.*?)(?P<trail>[ \t]*)$"
)
_LIST_ITEM = re.compile(r"^(?P<indent>[ \t]*)(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)")
# One blockquote marker: its indentation, the ``>`` and the one space or tab that may follow it.
_QUOTE_MARKER = re.compile(r"(?P<indent>[ \t]*)>[ \t]?")
_FENCE = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_DUE = re.compile(r"(?:📅\ufe0f?[ \t]*|(?<![\w:])due:)(?P<date>\d{4}-\d{2}-\d{2})(?![\w-])", re.I)
# A tag needs a letter (so "#1" stays an issue number) and no word character before the '#'.
_TAG = re.compile(r"(?<![\w#&/])#(?P<tag>[\w/-]*[^\W\d_][\w/-]*)")
# No word character before the '@', so that e-mail addresses are not mentions.
_MENTION = re.compile(r"(?<![\w@.])@(?P<name>\w[\w.-]*)")
_SPACES = re.compile(r"[ \t]+")


@dataclass(frozen=True, slots=True)
class TaskItem:
    line: int  # 1-based line number in the body
    level: int  # 0 for a top-level item, 1 for an item nested in another list item, …
    parent: int | None  # index (in the parse result) of the nearest enclosing task item
    marker: str
    done: bool
    content: str  # everything after the checkbox, as written
    text: str  # ``content`` without its due-date tokens, spaces collapsed
    due: date | None
    due_tokens: tuple[str, ...]  # the due-date tokens as written, for write-back
    tags: tuple[str, ...]
    assignees: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Extras:
    text: str
    due: date | None
    due_tokens: tuple[str, ...]
    tags: tuple[str, ...]
    assignees: tuple[str, ...]


def _width(indent: str) -> int:
    width = 0
    for char in indent:
        width = (width // TAB_WIDTH + 1) * TAB_WIDTH if char == "\t" else width + 1
    return width


def _valid_date(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


def normalize_label(raw: str) -> str:
    """How tags and assignees are stored and compared: NFC, lower case, no leading ``#``/``@``,
    no trailing ``-``, ``/`` or ``.`` (sentence punctuation after a tag is not part of it)."""
    return unicodedata.normalize("NFC", raw.strip()).lstrip("#@").rstrip("-/.").lower()


def _label(raw: str) -> str | None:
    value = normalize_label(raw)
    if not value or len(value) > MAX_LABEL_LENGTH:
        return None
    return value


def _read_extras(content: str) -> _Extras:
    due: date | None = None
    tokens: list[str] = []
    spans: list[tuple[int, int]] = []
    for match in _DUE.finditer(content):
        parsed = _valid_date(match.group("date"))
        if parsed is None:
            continue  # an impossible date is just words, not an error
        due = due or parsed
        tokens.append(match.group(0))
        spans.append(match.span())
    text = content
    for start, end in reversed(spans):
        text = text[:start] + " " + text[end:]
    text = _SPACES.sub(" ", text).strip()
    tags = [_label(m.group("tag")) for m in _TAG.finditer(text)]
    names = [_label(m.group("name")) for m in _MENTION.finditer(text)]
    return _Extras(
        text=text,
        due=due,
        due_tokens=tuple(tokens),
        tags=tuple(dict.fromkeys(t for t in tags if t)),
        assignees=tuple(dict.fromkeys(n for n in names if n)),
    )


def _match_item(line: str) -> re.Match[str] | None:
    match = _ITEM.match(line.rstrip("\r"))
    if match is None or not match.group("content"):
        return None
    return match


@dataclass(frozen=True, slots=True)
class _Quoted:
    prefix: str  # the blockquote markers as written, e.g. "> > "
    indents: tuple[int, ...]  # width of the indentation before each ``>``
    rest: str  # the line after them

    @property
    def depth(self) -> int:
        return len(self.indents)


def _unquote(line: str, limit: int | None = None) -> _Quoted:
    """Split ``line`` into its blockquote markers (at most ``limit`` of them) and the rest."""
    indents: list[int] = []
    end = 0
    while limit is None or len(indents) < limit:
        marker = _QUOTE_MARKER.match(line, end)
        if marker is None:
            break
        indents.append(_width(marker.group("indent")))
        end = marker.end()
    return _Quoted(line[:end], tuple(indents), line[end:])


def _encloses(entry: tuple[int, int, int | None], quoted: _Quoted, limit: float) -> bool:
    """Whether the open list item ``entry`` (blockquote depth, indent width, task index) still
    holds the line: the line is in the item's blockquotes, any deeper blockquote it opens is
    indented past the item, and within the item's own blockquote the item is indented less
    than ``limit``."""
    depth, item_width, _ = entry
    if depth > quoted.depth:
        return False  # the line is outside the blockquote the item is in
    if depth < quoted.depth:
        return item_width < quoted.indents[depth]
    return item_width < limit


def parse(body: str) -> list[TaskItem]:
    """Every task item of ``body``, in order of appearance."""
    items: list[TaskItem] = []
    # Open list items, outermost first: (blockquote depth, indent width within that
    # blockquote, index of the task item or None for a plain list item).
    stack: list[tuple[int, int, int | None]] = []
    # An open code fence and the blockquote depth it was opened at.
    fence: tuple[str, int] | None = None
    for number, raw_line in enumerate(body.split("\n"), start=1):
        line = raw_line.rstrip("\r")
        if fence is not None:
            marks, depth = fence
            inside = _unquote(line, depth)
            if inside.depth == depth:
                # A fence closes with the same character, at least as long, and nothing after.
                fence_match = _FENCE.match(inside.rest)
                if (
                    fence_match
                    and fence_match.group("fence").startswith(marks)
                    and not fence_match.group("info").strip()
                ):
                    fence = None
                continue
            # Leaving the blockquote ends the code block in it; the line is read as usual.
            fence = None
        quoted = _unquote(line)
        rest = quoted.rest
        fence_match = _FENCE.match(rest)
        if fence_match and not (
            fence_match.group("fence")[0] == "`" and "`" in fence_match.group("info")
        ):
            fence = (fence_match.group("fence"), quoted.depth)
            continue
        list_match = _LIST_ITEM.match(rest)
        width = 0
        if list_match is not None:
            width = _width(list_match.group("indent"))
            limit: float = width  # a list item ends the items not indented less than it
        elif rest.strip() and not rest[0].isspace():
            limit = 0  # a paragraph or heading at the margin ends every list it is in
        else:
            limit = math.inf  # a blank line or an indented paragraph continues them
        kept = 0
        while kept < len(stack) and _encloses(stack[kept], quoted, limit):
            kept += 1
        del stack[kept:]
        if list_match is None:
            continue
        level = len(stack)
        parent = next((index for _, _, index in reversed(stack) if index is not None), None)
        item = _match_item(rest)
        if item is None:
            stack.append((quoted.depth, width, None))
            continue
        extras = _read_extras(item.group("content"))
        stack.append((quoted.depth, width, len(items)))
        items.append(
            TaskItem(
                line=number,
                level=level,
                parent=parent,
                marker=item.group("marker"),
                done=item.group("check") != " ",
                content=item.group("content"),
                text=extras.text,
                due=extras.due,
                due_tokens=extras.due_tokens,
                tags=extras.tags,
                assignees=extras.assignees,
            )
        )
    return items


class NotATaskLine(ValueError):
    """The line given for a write-back is not a task item."""


def rewrite_line(line: str, *, done: bool | None = None, text: str | None = None) -> str:
    """``line`` (one task item) with its checkbox set to ``done`` and/or its text replaced.

    Blockquote markers, indentation, list marker and line ending are kept. A new ``text`` keeps
    the item's due date unless it writes one itself; tags and mentions are part of the text, so
    it decides them.
    """
    quoted = _unquote(line)
    match = _match_item(quoted.rest)
    if match is None:
        raise NotATaskLine(line)
    check = match.group("check")
    if done is not None and done != (check != " "):
        check = "x" if done else " "
    content = match.group("content")
    if text is not None:
        new_text = _SPACES.sub(" ", text).strip()
        if _read_extras(new_text).due is None:
            kept = _read_extras(content).due_tokens
            new_text = " ".join([new_text, *kept])
        content = new_text
    ending = "\r" if line.endswith("\r") else ""
    head = quoted.prefix + match.group("prefix") + check + match.group("close")
    return head + content + match.group("trail") + ending
