"""Two-factor authentication on memory fakes: enrol, confirm, the second sign-in step,
recovery codes, turning it off."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from adapters.memory.identity import (
    FastInsecurePasswordHasher,
    InMemoryEmailTokenRepository,
    InMemoryRecoveryCodeRepository,
    InMemorySessionRepository,
    InMemoryUserRepository,
)
from adapters.memory.ratelimit import InMemoryRateLimiter
from adapters.memory.totp import FakeTotpGenerator, totp_code
from core.identity import (
    IdentityThrottle,
    InvalidTwoFactorCodeError,
    Principal,
    SessionPolicy,
    SessionService,
    SignedIn,
    TwoFactorChallengeError,
    TwoFactorRequired,
    TwoFactorService,
    TwoFactorStateError,
    User,
    WrongPasswordError,
)
from core.identity.throttling import TWO_FACTOR_FAILURES_PER_ACCOUNT
from core.kernel import FixedClock, IdGenerator, RateLimitedError

PASSWORD = "correct horse battery"
EMAIL = "ada@example.com"


class World:
    def __init__(self) -> None:
        self.clock = FixedClock()
        hasher = FastInsecurePasswordHasher()
        self.users = InMemoryUserRepository()
        self.tokens = InMemoryEmailTokenRepository()
        self.codes = InMemoryRecoveryCodeRepository()
        throttle = IdentityThrottle(InMemoryRateLimiter(self.clock))
        ids = IdGenerator()
        self.sessions = SessionService(
            users=self.users,
            sessions=InMemorySessionRepository(self.users),
            challenges=self.tokens,
            hasher=hasher,
            dummy_hash=hasher.hash("dummy"),
            clock=self.clock,
            ids=ids,
            policy=SessionPolicy(),
            throttle=throttle,
        )
        self.two_factor = TwoFactorService(
            users=self.users,
            recovery_codes=self.codes,
            challenges=self.tokens,
            totp=FakeTotpGenerator(),
            hasher=hasher,
            sessions=self.sessions,
            clock=self.clock,
            ids=ids,
            throttle=throttle,
            issuer="Ninefold",
        )
        self._hasher = hasher

    async def principal(self) -> Principal:
        if await self.users.get_by_email(EMAIL) is None:
            await self.users.add(
                User(
                    id="usr_ada",
                    email=EMAIL,
                    name="Ada",
                    password_hash=self._hasher.hash(PASSWORD),
                    created_at=self.clock.now(),
                )
            )
        signed_in = await self.sessions.sign_in(EMAIL, PASSWORD)
        assert isinstance(signed_in, SignedIn)
        return Principal(user=signed_in.user, session=signed_in.session)

    async def principal_after_two_factor(self) -> Principal:
        """A session of Ada's once two-factor is on (opened directly)."""
        user = await self.users.get("usr_ada")
        assert user is not None
        signed_in = await self.sessions.open_session(user)
        return Principal(user=user, session=signed_in.session)

    def code(self, secret: str) -> str:
        return totp_code(secret, self.clock.now())

    async def enrolled(self) -> tuple[str, list[str]]:
        """Two-factor on: the secret and the recovery codes. Time moves to the next step,
        so the confirming code is not the current one."""
        principal = await self.principal()
        enrollment = await self.two_factor.start_enrollment(principal)
        codes = await self.two_factor.confirm_enrollment(principal, self.code(enrollment.secret))
        self.clock.advance(timedelta(seconds=30))
        return enrollment.secret, codes

    async def challenge(self) -> str:
        outcome = await self.sessions.sign_in(EMAIL, PASSWORD)
        assert isinstance(outcome, TwoFactorRequired)
        return outcome.challenge


@pytest.fixture
def world() -> World:
    return World()


async def test_enrolling_gives_a_secret_and_an_otpauth_uri_and_stays_pending(
    world: World,
) -> None:
    principal = await world.principal()

    enrollment = await world.two_factor.start_enrollment(principal)

    assert enrollment.uri.startswith("otpauth://totp/")
    assert f"secret={enrollment.secret}" in enrollment.uri
    user = await world.users.get("usr_ada")
    assert user is not None
    assert not user.two_factor_enabled
    assert isinstance(await world.sessions.sign_in(EMAIL, PASSWORD), SignedIn)


async def test_starting_again_replaces_the_pending_secret(world: World) -> None:
    principal = await world.principal()
    first = await world.two_factor.start_enrollment(principal)
    second = await world.two_factor.start_enrollment(principal)

    assert first.secret != second.secret
    with pytest.raises(InvalidTwoFactorCodeError):
        await world.two_factor.confirm_enrollment(principal, world.code(first.secret))
    assert await world.two_factor.confirm_enrollment(principal, world.code(second.secret))


async def test_confirming_turns_it_on_with_ten_recovery_codes(world: World) -> None:
    _, codes = await world.enrolled()

    assert len(codes) == 10 == len(set(codes))
    assert all(re.fullmatch(r"[0-9a-z]{4}-[0-9a-z]{4}", code) for code in codes)
    user = await world.users.get("usr_ada")
    assert user is not None
    assert user.two_factor_enabled
    stored = {code.code_hash for code in world.codes.codes.values()}
    assert len(stored) == 10
    assert not stored & set(codes)


async def test_a_wrong_code_does_not_confirm(world: World) -> None:
    principal = await world.principal()
    enrollment = await world.two_factor.start_enrollment(principal)
    wrong = "000000" if world.code(enrollment.secret) != "000000" else "111111"

    with pytest.raises(InvalidTwoFactorCodeError):
        await world.two_factor.confirm_enrollment(principal, wrong)
    with pytest.raises(InvalidTwoFactorCodeError):
        await world.two_factor.confirm_enrollment(principal, "abcdef")


async def test_confirming_without_enrolling_or_enrolling_twice_conflicts(world: World) -> None:
    principal = await world.principal()
    with pytest.raises(TwoFactorStateError):
        await world.two_factor.confirm_enrollment(principal, "123456")

    await world.enrolled()
    with pytest.raises(TwoFactorStateError):
        await world.two_factor.start_enrollment(principal)


async def test_with_two_factor_on_the_password_gives_a_challenge_and_no_session(
    world: World,
) -> None:
    secret, _ = await world.enrolled()
    sessions_before = len(world.sessions._sessions.sessions)  # type: ignore[attr-defined]

    challenge = await world.challenge()

    assert challenge.startswith("nf_2fa_")
    assert len(world.sessions._sessions.sessions) == sessions_before  # type: ignore[attr-defined]
    signed_in = await world.two_factor.complete_sign_in(challenge, code=world.code(secret))
    assert signed_in.token.startswith("nf_sess_")
    assert signed_in.user.id == "usr_ada"


async def test_a_challenge_works_once_and_expires_after_five_minutes(world: World) -> None:
    secret, _ = await world.enrolled()
    challenge = await world.challenge()
    await world.two_factor.complete_sign_in(challenge, code=world.code(secret))
    world.clock.advance(timedelta(seconds=30))

    with pytest.raises(TwoFactorChallengeError):
        await world.two_factor.complete_sign_in(challenge, code=world.code(secret))

    late = await world.challenge()
    world.clock.advance(timedelta(minutes=5, seconds=1))
    with pytest.raises(TwoFactorChallengeError):
        await world.two_factor.complete_sign_in(late, code=world.code(secret))


async def test_a_code_is_not_accepted_twice(world: World) -> None:
    secret, _ = await world.enrolled()
    code = world.code(secret)
    await world.two_factor.complete_sign_in(await world.challenge(), code=code)

    with pytest.raises(InvalidTwoFactorCodeError):
        await world.two_factor.complete_sign_in(await world.challenge(), code=code)


async def test_the_confirming_code_cannot_sign_in(world: World) -> None:
    principal = await world.principal()
    enrollment = await world.two_factor.start_enrollment(principal)
    code = world.code(enrollment.secret)
    await world.two_factor.confirm_enrollment(principal, code)

    with pytest.raises(InvalidTwoFactorCodeError):
        await world.two_factor.complete_sign_in(await world.challenge(), code=code)


async def test_a_recovery_code_signs_in_once(world: World) -> None:
    _, codes = await world.enrolled()

    signed_in = await world.two_factor.complete_sign_in(
        await world.challenge(), recovery_code=codes[0].upper().replace("-", " ")
    )

    assert signed_in.user.id == "usr_ada"
    with pytest.raises(InvalidTwoFactorCodeError):
        await world.two_factor.complete_sign_in(await world.challenge(), recovery_code=codes[0])
    assert await world.two_factor.complete_sign_in(await world.challenge(), recovery_code=codes[1])


async def test_wrong_codes_are_throttled_per_account(world: World) -> None:
    await world.enrolled()
    challenge = await world.challenge()
    for _ in range(TWO_FACTOR_FAILURES_PER_ACCOUNT.limit):
        with pytest.raises(InvalidTwoFactorCodeError):
            await world.two_factor.complete_sign_in(challenge, recovery_code="zzzz-zzzz", ip="a")

    with pytest.raises(RateLimitedError) as refused:
        await world.two_factor.complete_sign_in(challenge, recovery_code="zzzz-zzzz", ip="b")
    assert refused.value.retry_after_seconds > 0


async def test_disabling_needs_the_password_and_removes_the_codes(world: World) -> None:
    await world.enrolled()
    principal = await world.principal_after_two_factor()

    with pytest.raises(WrongPasswordError):
        await world.two_factor.disable(principal, "not my password")
    await world.two_factor.disable(principal, PASSWORD)

    user = await world.users.get("usr_ada")
    assert user is not None
    assert not user.two_factor_enabled
    assert user.totp_secret is None
    assert world.codes.codes == {}
    assert isinstance(await world.sessions.sign_in(EMAIL, PASSWORD), SignedIn)
    with pytest.raises(TwoFactorStateError):
        await world.two_factor.disable(principal, PASSWORD)


async def test_regenerating_recovery_codes_needs_the_password_and_replaces_them(
    world: World,
) -> None:
    _, old = await world.enrolled()
    principal = await world.principal_after_two_factor()

    with pytest.raises(WrongPasswordError):
        await world.two_factor.regenerate_recovery_codes(principal, "not my password")
    new = await world.two_factor.regenerate_recovery_codes(principal, PASSWORD)

    assert len(new) == 10
    assert not set(new) & set(old)
    assert await world.two_factor.remaining_recovery_codes(principal) == 10
    with pytest.raises(InvalidTwoFactorCodeError):
        await world.two_factor.complete_sign_in(await world.challenge(), recovery_code=old[0])
    assert await world.two_factor.complete_sign_in(await world.challenge(), recovery_code=new[0])
