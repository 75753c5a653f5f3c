"""Markdown task items, read from and written back to note bodies. Pure: no I/O, no database.

What counts as a task item: a list item (``-``, ``*``, ``+``, ``1.`` or ``1)``) whose text starts
with a checkbox (``[ ]``, ``[x]`` or ``[X]``) followed by whitespace and some text, outside
fenced code blocks. Inline extras are read from the text the way people write them: a due date
(``📅 2026-12-01`` or ``due:2026-12-01``; an impossible date is left as plain words),
``#tags`` and ``@assignees``.

The task's ``text`` is the item's text without its due-date tokens: a date is metadata, while
tags and mentions are words of the sentence ("call @bob about #budget") and stay in it.
"""

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


def parse(body: str) -> list[TaskItem]:
    """Every task item of ``body``, in order of appearance."""
    items: list[TaskItem] = []
    # Open list items: (indent width, index of the task item or None for a plain list item).
    stack: list[tuple[int, int | None]] = []
    fence: str | None = None
    for number, raw_line in enumerate(body.split("\n"), start=1):
        line = raw_line.rstrip("\r")
        fence_match = _FENCE.match(line)
        if fence is not None:
            # A fence closes with the same character, at least as long, and nothing after it.
            if (
                fence_match
                and fence_match.group("fence").startswith(fence)
                and not fence_match.group("info").strip()
            ):
                fence = None
            continue
        if fence_match and not (
            fence_match.group("fence")[0] == "`" and "`" in fence_match.group("info")
        ):
            fence = fence_match.group("fence")
            continue
        list_match = _LIST_ITEM.match(line)
        if list_match is None:
            if line.strip() and _width(line[: len(line) - len(line.lstrip())]) == 0:
                stack.clear()  # a paragraph or heading at the margin ends every open list
            continue
        width = _width(list_match.group("indent"))
        while stack and stack[-1][0] >= width:
            stack.pop()
        level = len(stack)
        parent = next((index for _, index in reversed(stack) if index is not None), None)
        item = _match_item(line)
        if item is None:
            stack.append((width, None))
            continue
        extras = _read_extras(item.group("content"))
        stack.append((width, len(items)))
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

    Indentation, list marker and line ending are kept. A new ``text`` keeps the item's due date
    unless it writes one itself; tags and mentions are part of the text, so it decides them.
    """
    match = _match_item(line)
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
    head = match.group("prefix") + check + match.group("close")
    return head + content + match.group("trail") + ending
