"""Signing in and out, and the sessions that result: opaque tokens, stored hashed, with
idle and absolute expiry."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from core.identity.errors import (
    AccountBannedError,
    InvalidCredentialsError,
    InvalidEmailError,
    SessionNotFoundError,
)
from core.identity.model import (
    TOKEN_LIFETIMES,
    AuthSession,
    EmailToken,
    Principal,
    SessionPolicy,
    TokenPurpose,
    User,
    normalize_email,
)
from core.identity.ports import (
    EmailTokenRepository,
    PasswordHasher,
    SessionRepository,
    UserRepository,
)
from core.identity.throttling import IdentityThrottle
from core.identity.tokens import hash_token, new_token
from core.kernel import Clock, IdGenerator

SESSION_TOKEN_PREFIX = "nf_sess"
IMPERSONATION_TOKEN_PREFIX = SESSION_TOKEN_PREFIX + "_imp"
"""The tokens of sessions opened for staff impersonating a user (``core.safety``): a
session token like any other, recognisable so that each request with one is checked
against its impersonation."""
CHALLENGE_TOKEN_PREFIX = "nf_2fa"
USER_AGENT_MAX_LENGTH = 400
IP_MAX_LENGTH = 64


class SignedIn:
    """The outcome of a sign-in: the token (shown once) and the session it opens."""

    def __init__(self, token: str, session: AuthSession, user: User) -> None:
        self.token = token
        self.session = session
        self.user = user


class TwoFactorRequired:
    """The outcome of a right password when the account has two-factor on: no session
    yet, but a short-lived, single-use challenge to send back with the code (see
    ``TwoFactorService.complete_sign_in``)."""

    def __init__(self, challenge: str, expires_at: datetime, user: User) -> None:
        self.challenge = challenge
        self.expires_at = expires_at
        self.user = user


class SessionService:
    def __init__(
        self,
        *,
        users: UserRepository,
        sessions: SessionRepository,
        challenges: EmailTokenRepository,
        hasher: PasswordHasher,
        dummy_hash: str,
        clock: Clock,
        ids: IdGenerator,
        policy: SessionPolicy,
        throttle: IdentityThrottle,
    ) -> None:
        self._users = users
        self._sessions = sessions
        self._challenges = challenges
        self._hasher = hasher
        self._dummy_hash = dummy_hash
        self._clock = clock
        self._ids = ids
        self._policy = policy
        self._throttle = throttle

    async def sign_in(
        self, email: str, password: str, *, ip: str = "", user_agent: str = ""
    ) -> SignedIn | TwoFactorRequired:
        """Check the password and open a session, or, when the account has two-factor
        authentication on, hand out a challenge for the second step instead. An unknown
        email costs the same password check and fails the same way as a wrong password.
        Failures are throttled (see ``throttling``)."""
        await self._throttle.check_sign_in(email, ip)
        try:
            normalized = normalize_email(email)
        except InvalidEmailError:
            normalized = ""
        user = await self._users.get_by_email(normalized) if normalized else None
        stored = user.password_hash if user else self._dummy_hash
        matches = await asyncio.to_thread(self._hasher.verify, stored, password)
        if user is None or not matches:
            await self._throttle.sign_in_failed(email, ip)
            raise InvalidCredentialsError()
        if user.is_banned:
            raise AccountBannedError()
        if user.two_factor_enabled:
            return await self._challenge(user)
        return await self.open_session(user, ip=ip, user_agent=user_agent)

    async def _challenge(self, user: User) -> TwoFactorRequired:
        now = self._clock.now()
        purpose = TokenPurpose.TWO_FACTOR_CHALLENGE
        await self._challenges.revoke_all(user.id, purpose, now)
        token = new_token(CHALLENGE_TOKEN_PREFIX)
        record = EmailToken(
            id=self._ids.new("etk", now),
            user_id=user.id,
            purpose=purpose,
            token_hash=hash_token(token),
            created_at=now,
            expires_at=now + TOKEN_LIFETIMES[purpose],
        )
        await self._challenges.add(record)
        return TwoFactorRequired(token, record.expires_at, user)

    async def open_session(
        self,
        user: User,
        *,
        ip: str = "",
        user_agent: str = "",
        until: datetime | None = None,
        impersonation: bool = False,
    ) -> SignedIn:
        """Open a session for ``user``. ``until`` ends it sooner than the policy would
        (never later); ``impersonation`` gives its token ``IMPERSONATION_TOKEN_PREFIX``."""
        now = self._clock.now()
        token = new_token(IMPERSONATION_TOKEN_PREFIX if impersonation else SESSION_TOKEN_PREFIX)
        expires_at = now + self._policy.absolute
        if until is not None:
            expires_at = min(expires_at, until)
        session = AuthSession(
            id=self._ids.new("ses", now),
            user_id=user.id,
            token_hash=hash_token(token),
            created_at=now,
            last_seen_at=now,
            expires_at=expires_at,
            idle_expires_at=min(now + self._policy.idle, expires_at),
            user_agent=user_agent[:USER_AGENT_MAX_LENGTH],
            ip=ip[:IP_MAX_LENGTH],
        )
        await self._sessions.add(session)
        return SignedIn(token, session, user)

    async def authenticate(self, token: str) -> Principal | None:
        """The principal a token stands for, or None if it is unknown, expired, revoked
        or its user is banned. Read-only: see ``touch``."""
        if not token.startswith(SESSION_TOKEN_PREFIX + "_"):
            return None
        found = await self._sessions.find_active(hash_token(token), self._clock.now())
        if found is None:
            return None
        session, user = found
        if user.is_banned:
            return None
        return Principal(user=user, session=session)

    def needs_touch(self, principal: Principal) -> bool:
        return principal.session.needs_touch(self._clock.now(), self._policy)

    async def touch(self, principal: Principal) -> None:
        """Record use: moves the idle expiry forward, never past the absolute one."""
        now = self._clock.now()
        session = principal.session
        idle_until = min(now + self._policy.idle, session.expires_at)
        await self._sessions.touch(session.id, now, idle_until)

    async def rotate(self, principal: Principal, *, ip: str = "", user_agent: str = "") -> SignedIn:
        """A fresh token for the same user, the old session ended (privilege change)."""
        await self._sessions.revoke(principal.session.id, self._clock.now())
        return await self.open_session(principal.user, ip=ip, user_agent=user_agent)

    async def end_session(self, session_id: str) -> None:
        """End one session by its id, whoever's it is (an impersonation stopped)."""
        await self._sessions.revoke(session_id, self._clock.now())

    async def sign_out(self, principal: Principal) -> None:
        await self._sessions.revoke(principal.session.id, self._clock.now())

    async def list_sessions(self, principal: Principal) -> Sequence[AuthSession]:
        return await self._sessions.list_active(principal.user.id, self._clock.now())

    async def revoke_session(self, principal: Principal, session_id: str) -> None:
        session = await self._sessions.get(principal.user.id, session_id)
        if session is None or not session.is_active(self._clock.now()):
            raise SessionNotFoundError()
        await self._sessions.revoke(session.id, self._clock.now())

    async def revoke_other_sessions(self, principal: Principal) -> int:
        return await self._sessions.revoke_all(
            principal.user.id, self._clock.now(), keep=principal.session.id
        )

    async def revoke_all_sessions(self, user_id: str) -> int:
        """Sign a user out everywhere (password reset, ban)."""
        return await self._sessions.revoke_all(user_id, self._clock.now())
