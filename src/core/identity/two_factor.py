"""Two-factor authentication with TOTP (authenticator apps) and recovery codes.

- Enrolling hands out a secret (and its ``otpauth://`` URI, for a QR code); it stays
  pending until a code from the app confirms it. Starting again replaces it.
- Confirming turns two-factor on and hands out ten single-use recovery codes, shown
  once and stored as hashes.
- A code is accepted one time step either side of now, and never twice: the step of the
  last accepted code is stored and only later steps pass.
- Turning it off, or getting new recovery codes, asks for the password again.
- Sign-in with two-factor on is two steps: the password gives a challenge
  (``SessionService.sign_in``), the challenge and a code open the session here.

Wrong codes and wrong passwords are throttled per account and per address.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from datetime import datetime

from core.identity.errors import (
    AccountBannedError,
    InvalidTwoFactorCodeError,
    TwoFactorChallengeError,
    TwoFactorStateError,
    WrongPasswordError,
)
from core.identity.model import Principal, RecoveryCode, TokenPurpose, User
from core.identity.ports import (
    EmailTokenRepository,
    PasswordHasher,
    RecoveryCodeRepository,
    TotpGenerator,
    UserRepository,
)
from core.identity.sessions import SessionService, SignedIn
from core.identity.throttling import IdentityThrottle
from core.identity.tokens import hash_token
from core.kernel import Clock, IdGenerator

RECOVERY_CODE_COUNT = 10
# 32 letters and digits without the look-alikes i, l, o, u: 5 bits a character.
RECOVERY_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
RECOVERY_HALF_LENGTH = 4


class Enrollment:
    """A pending TOTP secret and the URI an authenticator app reads."""

    def __init__(self, secret: str, uri: str) -> None:
        self.secret = secret
        self.uri = uri


def new_recovery_code() -> str:
    """``xxxx-xxxx``: 40 bits, enough for a single-use code behind a throttle."""
    halves = (
        "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_HALF_LENGTH))
        for _ in range(2)
    )
    return "-".join(halves)


def hash_recovery_code(user_id: str, code: str) -> str:
    """SHA-256 of the user id and the code as typed, less dashes, spaces and case: the
    user id keeps one table of precomputed hashes from serving every account."""
    normalized = "".join(code.split()).replace("-", "").lower()
    return hash_token(f"{user_id}:{normalized}")


class TwoFactorService:
    def __init__(
        self,
        *,
        users: UserRepository,
        recovery_codes: RecoveryCodeRepository,
        challenges: EmailTokenRepository,
        totp: TotpGenerator,
        hasher: PasswordHasher,
        sessions: SessionService,
        clock: Clock,
        ids: IdGenerator,
        throttle: IdentityThrottle,
        issuer: str,
    ) -> None:
        self._users = users
        self._codes = recovery_codes
        self._challenges = challenges
        self._totp = totp
        self._hasher = hasher
        self._sessions = sessions
        self._clock = clock
        self._ids = ids
        self._throttle = throttle
        self._issuer = issuer

    async def _current(self, principal: Principal) -> User:
        user = await self._users.get(principal.user.id)
        return user if user is not None else principal.user

    async def start_enrollment(self, principal: Principal) -> Enrollment:
        user = await self._current(principal)
        if user.two_factor_enabled:
            raise TwoFactorStateError("two-factor authentication is on already")
        secret = self._totp.new_secret()
        await self._users.set_totp(user.id, secret)
        uri = self._totp.provisioning_uri(secret, account_name=user.email, issuer=self._issuer)
        return Enrollment(secret, uri)

    async def confirm_enrollment(
        self, principal: Principal, code: str, *, ip: str = ""
    ) -> list[str]:
        """Turn two-factor on with a code from the app; returns the recovery codes."""
        user = await self._current(principal)
        if user.two_factor_enabled or user.totp_secret is None:
            raise TwoFactorStateError("start enrolling first")
        await self._throttle.check_two_factor(user.id, ip)
        step = self._totp.verify(user.totp_secret, code, self._clock.now())
        if step is None:
            await self._throttle.two_factor_failed(user.id, ip)
            raise InvalidTwoFactorCodeError()
        await self._users.set_totp(user.id, user.totp_secret, self._clock.now(), step)
        return await self._new_recovery_codes(user.id)

    async def disable(self, principal: Principal, password: str, *, ip: str = "") -> None:
        """Turn two-factor off. Every other session ends: they may have been opened by
        someone who had the second factor and should lose it with it."""
        user = await self._current(principal)
        if user.totp_secret is None:
            raise TwoFactorStateError("two-factor authentication is off")
        await self._check_password(user, password, ip)
        await self._users.set_totp(user.id, None)
        await self._codes.delete_all(user.id)
        await self._sessions.revoke_other_sessions(principal)

    async def regenerate_recovery_codes(
        self, principal: Principal, password: str, *, ip: str = ""
    ) -> list[str]:
        """New recovery codes; the old ones, used or not, stop working."""
        user = await self._current(principal)
        if not user.two_factor_enabled:
            raise TwoFactorStateError("two-factor authentication is off")
        await self._check_password(user, password, ip)
        return await self._new_recovery_codes(user.id)

    async def remaining_recovery_codes(self, principal: Principal) -> int:
        return await self._codes.count_unused(principal.user.id)

    async def complete_sign_in(
        self,
        challenge: str,
        *,
        code: str | None = None,
        recovery_code: str | None = None,
        ip: str = "",
        user_agent: str = "",
    ) -> SignedIn:
        """The second step of a sign-in: the challenge from the first and either an
        authenticator code or a recovery code. A wrong code leaves the challenge open
        (until it expires or the throttle stops); success uses it up and opens a new
        session."""
        purpose = TokenPurpose.TWO_FACTOR_CHALLENGE
        found = await self._challenges.find_usable(hash_token(challenge), purpose, self._now())
        user = await self._users.get(found.user_id) if found is not None else None
        await self._throttle.check_two_factor(user.id if user else "", ip)
        if found is None or user is None or not user.two_factor_enabled:
            await self._throttle.two_factor_failed("", ip)
            raise TwoFactorChallengeError()
        if user.is_banned:
            raise AccountBannedError()
        if not await self._second_factor(user, code, recovery_code):
            await self._throttle.two_factor_failed(user.id, ip)
            raise InvalidTwoFactorCodeError()
        if not await self._challenges.use(found.id, self._now()):
            raise TwoFactorChallengeError()
        return await self._sessions.open_session(user, ip=ip, user_agent=user_agent)

    async def _second_factor(self, user: User, code: str | None, recovery_code: str | None) -> bool:
        if code and user.totp_secret is not None:
            step = self._totp.verify(user.totp_secret, code, self._now())
            if step is None:
                return False
            return await self._users.use_totp_step(user.id, step)
        if recovery_code:
            code_hash = hash_recovery_code(user.id, recovery_code)
            return await self._codes.use(user.id, code_hash, self._now())
        return False

    async def _check_password(self, user: User, password: str, ip: str) -> None:
        await self._throttle.check_two_factor(user.id, ip)
        if not await asyncio.to_thread(self._hasher.verify, user.password_hash, password):
            await self._throttle.two_factor_failed(user.id, ip)
            raise WrongPasswordError()

    async def _new_recovery_codes(self, user_id: str) -> list[str]:
        plain = [new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
        records: Sequence[RecoveryCode] = [
            RecoveryCode(
                id=self._ids.new("rco", self._now()),
                user_id=user_id,
                code_hash=hash_recovery_code(user_id, code),
            )
            for code in plain
        ]
        await self._codes.replace_all(user_id, records)
        return plain

    def _now(self) -> datetime:
        return self._clock.now()
