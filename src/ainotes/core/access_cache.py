"""A short-lived, in-process memory of verified access, so that a burst of reads by the same
token in the same workspace checks it against the database once, not on every request.

What may be cached, and for how long, is the caller's rule (workspaces/dependencies.py); this
module only keeps entries honest:

- An entry lives ``ttl`` seconds at most (``AINOTES_ACCESS_CACHE_SECONDS``; 0 turns the cache
  off). That bounds how long a change made elsewhere (another server process, the CLI) goes
  unseen here.
- A change made in this process empties the cache once its transaction has committed
  (``Database`` calls ``invalidate`` for sessions marked with ``mark_access_changed``).
- A lookup that read the database before such a change committed cannot store what it read:
  ``store`` takes the generation seen before the lookup began, and refuses it once an
  invalidation has happened since.
"""

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from ainotes.core.principal import Principal

Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")

# Bounds the memory a stream of distinct tokens and workspaces can take; the oldest go first.
MAX_ENTRIES = 10_000
_ACCESS_CHANGED = "ainotes.access_changed"


@dataclass(frozen=True, slots=True)
class VerifiedAccess:
    """A token verified for one workspace: its principal, the role it holds there (None for
    agents, whose access is their token's scopes), and what is checked again on every use."""

    principal: Principal
    role: str | None
    expires_at: datetime | None
    last_used_at: datetime | None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


class AccessCache(Generic[Key, Value]):
    def __init__(self, ttl_seconds: float, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self.generation = 0
        self._entries: dict[Key, tuple[float, Value]] = {}

    @property
    def enabled(self) -> bool:
        return self.ttl_seconds > 0

    def get(self, key: Key) -> Value | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        deadline, value = entry
        if time.monotonic() >= deadline:
            del self._entries[key]
            return None
        return value

    def store(self, key: Key, value: Value, generation: int) -> None:
        """Remember ``value`` unless the cache was invalidated after ``generation`` was read."""
        if not self.enabled or generation != self.generation:
            return
        self._entries.pop(key, None)
        if len(self._entries) >= self.max_entries:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = (time.monotonic() + self.ttl_seconds, value)

    def update(self, key: Key, change: Callable[[Value], Value]) -> None:
        """Apply ``change`` to the value remembered now, keeping its deadline (nothing if it is
        gone). It changes what is there, not what the caller read earlier: another request may
        have stored a newer value meanwhile."""
        entry = self._entries.get(key)
        if entry is not None:
            self._entries[key] = (entry[0], change(entry[1]))

    def invalidate(self) -> None:
        self.generation += 1
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def mark_access_changed(session: AsyncSession) -> None:
    """Services call this when their transaction changes who may do what (a token revoked, a
    member removed, an agent disabled): the database's access cache is emptied once it
    commits (and, to be safe, whenever it ends)."""
    session.info[_ACCESS_CHANGED] = True


def access_changed(session: AsyncSession) -> bool:
    """Whether the session's transaction was marked, clearing the mark."""
    return bool(session.info.pop(_ACCESS_CHANGED, False))
