"""What other modules hear about note writes, inside the same transaction as the write.

Links, tasks and the search index are derived from note content; they subscribe here (wired
once by the application factory) so that the notes module does not import them, and a
listener that raises rolls the whole write back.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from ainotes.core.db import WritableSession


class NoteChangeKind(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    TRASHED = "trashed"
    RESTORED = "restored"
    PURGED = "purged"


@dataclass(frozen=True, slots=True)
class NoteChange:
    kind: NoteChangeKind
    workspace_id: str
    note_id: str
    version: int
    title: str
    body: str
    tags: tuple[str, ...]
    # The title before this change; differs from ``title`` on a rename.
    previous_title: str | None
    trashed: bool
    # Carried so that listeners (the search index) need not read the note back.
    archived: bool
    updated_at: datetime
    actor_id: str


NoteListener = Callable[[WritableSession, NoteChange], Awaitable[None]]

_listeners: list[NoteListener] = []


def subscribe(listener: NoteListener) -> None:
    """Register a listener; registering the same one again has no effect."""
    if listener not in _listeners:
        _listeners.append(listener)


async def publish(session: WritableSession, change: NoteChange) -> None:
    for listener in _listeners:
        await listener(session, change)
