"""AccessCache on its own: lifetimes, invalidation, the generation rule and its bound."""

from datetime import timedelta

import pytest

from ainotes.core.access_cache import AccessCache, VerifiedAccess
from ainotes.core.models import utcnow
from ainotes.core.principal import Principal, PrincipalKind


class Clock:
    """Stands in for time.monotonic, which the cache reads for its deadlines."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr("ainotes.core.access_cache.time.monotonic", clock)
    return clock


def test_an_entry_lives_its_ttl_and_no_longer(clock: Clock):
    cache: AccessCache[str, int] = AccessCache(ttl_seconds=5)
    cache.store("token", 1, cache.generation)
    clock.now += 4.9
    assert cache.get("token") == 1
    clock.now += 0.1
    assert cache.get("token") is None
    assert len(cache) == 0


def test_invalidate_forgets_everything():
    cache: AccessCache[str, int] = AccessCache(ttl_seconds=5)
    cache.store("a", 1, cache.generation)
    cache.store("b", 2, cache.generation)
    cache.invalidate()
    assert cache.get("a") is None
    assert cache.get("b") is None


def test_a_lookup_that_began_before_an_invalidation_is_not_stored():
    cache: AccessCache[str, int] = AccessCache(ttl_seconds=5)
    generation = cache.generation  # the lookup starts reading the database
    cache.invalidate()  # a revocation commits meanwhile
    cache.store("token", 1, generation)
    assert cache.get("token") is None
    cache.store("token", 2, cache.generation)
    assert cache.get("token") == 2


def test_a_ttl_of_zero_stores_nothing():
    cache: AccessCache[str, int] = AccessCache(ttl_seconds=0)
    assert not cache.enabled
    cache.store("token", 1, cache.generation)
    assert cache.get("token") is None


def test_the_oldest_entry_goes_first_when_full():
    cache: AccessCache[str, int] = AccessCache(ttl_seconds=5, max_entries=3)
    for number, key in enumerate("abcd"):
        cache.store(key, number, cache.generation)
    assert len(cache) == 3
    assert cache.get("a") is None
    assert [cache.get(key) for key in "bcd"] == [1, 2, 3]


def test_storing_again_renews_the_deadline_and_the_place(clock: Clock):
    cache: AccessCache[str, int] = AccessCache(ttl_seconds=5, max_entries=2)
    cache.store("a", 1, cache.generation)
    cache.store("b", 2, cache.generation)
    clock.now += 3
    cache.store("a", 10, cache.generation)
    cache.store("c", 3, cache.generation)  # evicts b, now the oldest
    assert cache.get("b") is None
    clock.now += 4
    assert cache.get("a") == 10
    assert cache.get("c") == 3


def test_update_changes_what_is_there_and_keeps_the_deadline(clock: Clock):
    cache: AccessCache[str, int] = AccessCache(ttl_seconds=5)
    cache.store("token", 1, cache.generation)
    cache.store("token", 10, cache.generation)  # stored by another request meanwhile
    clock.now += 4
    cache.update("token", lambda current: current + 1)
    assert cache.get("token") == 11
    clock.now += 1
    assert cache.get("token") is None
    cache.update("token", lambda current: current + 1)  # gone: nothing comes back
    assert cache.get("token") is None


def test_verified_access_expires_with_its_token():
    principal = Principal(kind=PrincipalKind.USER, id="u", name="ada")
    now = utcnow()
    never = VerifiedAccess(principal, "viewer", None, None)
    later = VerifiedAccess(principal, "viewer", now + timedelta(seconds=1), None)
    past = VerifiedAccess(principal, "viewer", now, None)
    assert not never.expired(now)
    assert not later.expired(now)
    assert past.expired(now)
