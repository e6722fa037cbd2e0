"""Sign-in throttling: guessers are stopped, the owner is not locked out for good."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.memory.identity import (
    FastInsecurePasswordHasher,
    InMemoryEmailTokenRepository,
    InMemorySessionRepository,
    InMemoryUserRepository,
)
from adapters.memory.ratelimit import InMemoryRateLimiter
from core.identity import (
    IdentityThrottle,
    InvalidCredentialsError,
    SessionPolicy,
    SessionService,
    User,
)
from core.identity.throttling import SIGN_IN_FAILURES_PER_ACCOUNT_AND_IP
from core.kernel import FixedClock, IdGenerator, RateLimitedError

PASSWORD = "correct horse battery"


class World:
    def __init__(self) -> None:
        self.clock = FixedClock()
        hasher = FastInsecurePasswordHasher()
        self.users = InMemoryUserRepository()
        self.sessions = SessionService(
            users=self.users,
            sessions=InMemorySessionRepository(self.users),
            challenges=InMemoryEmailTokenRepository(),
            hasher=hasher,
            dummy_hash=hasher.hash("dummy"),
            clock=self.clock,
            ids=IdGenerator(),
            policy=SessionPolicy(),
            throttle=IdentityThrottle(InMemoryRateLimiter(self.clock)),
        )
        self._hasher = hasher

    async def add_user(self, email: str) -> None:
        await self.users.add(
            User(
                id=f"usr_{email.split('@', maxsplit=1)[0]}",
                email=email,
                name="",
                password_hash=self._hasher.hash(PASSWORD),
                created_at=self.clock.now(),
            )
        )

    async def fail(self, email: str, ip: str, times: int) -> None:
        for _ in range(times):
            with pytest.raises(InvalidCredentialsError):
                await self.sessions.sign_in(email, "wrong guess", ip=ip)


@pytest.fixture
async def world() -> World:
    built = World()
    await built.add_user("ada@example.com")
    return built


async def test_a_guesser_is_stopped_after_a_few_failures_with_a_retry_time(world: World) -> None:
    await world.fail("ada@example.com", "203.0.113.9", SIGN_IN_FAILURES_PER_ACCOUNT_AND_IP.limit)

    with pytest.raises(RateLimitedError) as refused:
        await world.sessions.sign_in("ada@example.com", PASSWORD, ip="203.0.113.9")

    assert refused.value.status == 429
    assert 0 < int(refused.value.headers["Retry-After"]) <= 15 * 60  # type: ignore[index]


async def test_the_owner_still_signs_in_from_their_own_address_during_an_attack(
    world: World,
) -> None:
    await world.fail("ada@example.com", "203.0.113.9", SIGN_IN_FAILURES_PER_ACCOUNT_AND_IP.limit)

    signed_in = await world.sessions.sign_in("ada@example.com", PASSWORD, ip="198.51.100.7")

    assert signed_in.user.email == "ada@example.com"


async def test_the_lockout_ends_once_the_window_has_passed(world: World) -> None:
    await world.fail("ada@example.com", "203.0.113.9", SIGN_IN_FAILURES_PER_ACCOUNT_AND_IP.limit)

    world.clock.advance(timedelta(minutes=31))  # two windows: a sliding window forgets

    assert await world.sessions.sign_in("ada@example.com", PASSWORD, ip="203.0.113.9")


async def test_successful_sign_ins_do_not_count_towards_a_lockout(world: World) -> None:
    for _ in range(SIGN_IN_FAILURES_PER_ACCOUNT_AND_IP.limit * 3):
        await world.sessions.sign_in("ada@example.com", PASSWORD, ip="198.51.100.7")


async def test_unknown_emails_are_throttled_like_known_ones(world: World) -> None:
    await world.fail("nobody@example.com", "203.0.113.9", SIGN_IN_FAILURES_PER_ACCOUNT_AND_IP.limit)

    with pytest.raises(RateLimitedError):
        await world.sessions.sign_in("nobody@example.com", PASSWORD, ip="203.0.113.9")
