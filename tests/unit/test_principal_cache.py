"""The short principal cache: entries live ttl seconds and are forgotten on demand."""

from __future__ import annotations

from datetime import UTC, datetime

from core.identity import AuthSession, Principal, User
from entrypoints.http.principal_cache import PrincipalCache

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def principal(user_id: str, session_id: str) -> Principal:
    user = User(
        id=user_id, email=f"{user_id}@example.com", name="", password_hash="x", created_at=T0
    )
    session = AuthSession(
        id=session_id,
        user_id=user_id,
        token_hash=session_id,
        created_at=T0,
        last_seen_at=T0,
        expires_at=T0,
        idle_expires_at=T0,
    )
    return Principal(user=user, session=session)


class Ticker:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_lives_for_the_ttl_only() -> None:
    ticker = Ticker()
    cache = PrincipalCache(2.0, monotonic=ticker)
    cache.put("h1", principal("u1", "s1"))

    ticker.now += 1.9
    assert cache.get("h1") is not None
    ticker.now += 0.2
    assert cache.get("h1") is None


def test_forgetting_a_user_drops_all_their_sessions_and_only_theirs() -> None:
    cache = PrincipalCache(60)
    cache.put("a1", principal("ada", "s1"))
    cache.put("a2", principal("ada", "s2"))
    cache.put("b1", principal("bob", "s3"))

    cache.forget_user("ada")

    assert cache.get("a1") is None
    assert cache.get("a2") is None
    assert cache.get("b1") is not None


def test_a_zero_ttl_caches_nothing() -> None:
    cache = PrincipalCache(0)
    cache.put("h1", principal("u1", "s1"))

    assert not cache.enabled
    assert cache.get("h1") is None


def test_the_cache_stays_bounded() -> None:
    cache = PrincipalCache(60, max_entries=3)
    for n in range(10):
        cache.put(f"h{n}", principal(f"u{n}", f"s{n}"))

    assert sum(cache.get(f"h{n}") is not None for n in range(10)) <= 3
