"""Accounts by email: sign-up, email verification and password reset.

None of these answers says whether an email is registered: sign-up and "forgot my
password" accept any well-formed address the same way and tell the owner by email.
Every path pays for one password hash, so timing does not tell either.
"""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from core.identity.errors import (
    EmailTakenError,
    InvalidEmailError,
    InvalidTokenError,
)
from core.identity.events import EmailVerified, PasswordReset, UserRegistered
from core.identity.model import (
    TOKEN_LIFETIMES,
    EmailToken,
    TokenPurpose,
    User,
    normalize_email,
)
from core.identity.ports import (
    EmailTokenRepository,
    PasswordHasher,
    PasswordPolicy,
    SessionRepository,
    UserRepository,
)
from core.identity.service import check_new_password
from core.identity.throttling import IdentityThrottle
from core.identity.tokens import hash_token, new_token
from core.kernel import Clock, IdGenerator, UnitOfWork
from core.notifications import NotificationRequest, Notifier, Recipient

EMAIL_TOKEN_PREFIX = "nf_link"


class AccountService:
    def __init__(
        self,
        *,
        uow: UnitOfWork,
        users: UserRepository,
        tokens: EmailTokenRepository,
        sessions: SessionRepository,
        hasher: PasswordHasher,
        policy: PasswordPolicy,
        notifier: Notifier,
        clock: Clock,
        ids: IdGenerator,
        public_url: str,
        throttle: IdentityThrottle,
    ) -> None:
        self._uow = uow
        self._users = users
        self._tokens = tokens
        self._sessions = sessions
        self._hasher = hasher
        self._policy = policy
        self._notifier = notifier
        self._clock = clock
        self._ids = ids
        self._public_url = public_url.rstrip("/")
        self._throttle = throttle

    async def sign_up(self, email: str, password: str, name: str = "", *, ip: str = "") -> None:
        """Create an unverified account and send its verification link; if the email is
        taken, tell its owner by email instead. The caller learns nothing either way."""
        await self._throttle.sign_up(ip)
        normalized = normalize_email(email)
        check_new_password(self._policy, password, normalized, name)
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        existing = await self._users.get_by_email(normalized)
        if existing is not None:
            await self._send_already_registered(existing)
            return
        now = self._clock.now()
        user = User(
            id=self._ids.new("usr", now),
            email=normalized,
            name=name.strip()[:200] or normalized.split("@")[0],
            password_hash=password_hash,
            created_at=now,
        )
        try:
            await self._users.add(user)
        except EmailTakenError:  # a concurrent sign-up won the race
            return
        self._uow.raise_event(UserRegistered(occurred_at=now, user_id=user.id, email=user.email))
        await self._send_link(user, TokenPurpose.VERIFY_EMAIL)

    async def resend_verification(self, user: User) -> None:
        if user.email_verified_at is None:
            await self._send_link(user, TokenPurpose.VERIFY_EMAIL)

    async def verify_email(self, token: str, *, ip: str = "") -> User:
        await self._throttle.token_attempt(ip)
        found = await self._use(token, TokenPurpose.VERIFY_EMAIL)
        user = await self._users.get(found.user_id)
        if user is None:
            raise InvalidTokenError()
        now = self._clock.now()
        if user.email_verified_at is None:
            await self._users.mark_email_verified(user.id, now)
            user.email_verified_at = now
            self._uow.raise_event(EmailVerified(occurred_at=now, user_id=user.id))
        return user

    async def request_password_reset(self, email: str, *, ip: str = "") -> None:
        """Send a reset link if the account exists; the same answer either way."""
        await self._throttle.reset_request(email, ip)
        try:
            normalized = normalize_email(email)
        except InvalidEmailError:
            return
        user = await self._users.get_by_email(normalized)
        if user is None or user.is_banned:
            return
        await self._send_link(user, TokenPurpose.RESET_PASSWORD)

    async def reset_password(self, token: str, new_password: str, *, ip: str = "") -> None:
        """Set a new password from a reset link; every session of the user ends, and so
        does every other open reset link. Following the link proves the email, too."""
        await self._throttle.token_attempt(ip)
        found = await self._peek(token, TokenPurpose.RESET_PASSWORD)
        user = await self._users.get(found.user_id)
        if user is None:
            raise InvalidTokenError()
        check_new_password(self._policy, new_password, user.email, user.name)
        password_hash = await asyncio.to_thread(self._hasher.hash, new_password)
        await self._use(token, TokenPurpose.RESET_PASSWORD)
        now = self._clock.now()
        await self._users.set_password_hash(user.id, password_hash)
        if user.email_verified_at is None:
            await self._users.mark_email_verified(user.id, now)
        await self._tokens.revoke_all(user.id, TokenPurpose.RESET_PASSWORD, now)
        await self._sessions.revoke_all(user.id, now)
        self._uow.raise_event(PasswordReset(occurred_at=now, user_id=user.id))

    async def _peek(self, token: str, purpose: TokenPurpose) -> EmailToken:
        found = await self._tokens.find_usable(hash_token(token), purpose, self._clock.now())
        if found is None:
            raise InvalidTokenError()
        return found

    async def _use(self, token: str, purpose: TokenPurpose) -> EmailToken:
        found = await self._peek(token, purpose)
        if not await self._tokens.use(found.id, self._clock.now()):
            raise InvalidTokenError()
        return found

    async def _send_link(self, user: User, purpose: TokenPurpose) -> None:
        now = self._clock.now()
        await self._tokens.revoke_all(user.id, purpose, now)
        token = new_token(EMAIL_TOKEN_PREFIX)
        record = EmailToken(
            id=self._ids.new("etk", now),
            user_id=user.id,
            purpose=purpose,
            token_hash=hash_token(token),
            created_at=now,
            expires_at=now + TOKEN_LIFETIMES[purpose],
        )
        await self._tokens.add(record)
        await self._notifier.notify(self._link_email(user, purpose, token, record.id))

    def _link_email(
        self, user: User, purpose: TokenPurpose, token: str, token_id: str
    ) -> NotificationRequest:
        hours = int(TOKEN_LIFETIMES[purpose].total_seconds() // 3600)
        if purpose is TokenPurpose.VERIFY_EMAIL:
            link = f"{self._public_url}/verify-email?token={quote(token)}"
            kind = "identity.verify_email"
        else:
            link = f"{self._public_url}/reset-password?token={quote(token)}"
            kind = "identity.reset_password"
        return NotificationRequest(
            type=kind,
            recipient=_recipient(user),
            data={"name": user.name, "link": link, "hours": hours},
            idempotency_key=token_id,
        )

    async def _send_already_registered(self, user: User) -> None:
        now = self._clock.now()
        await self._notifier.notify(
            NotificationRequest(
                type="identity.already_registered",
                recipient=_recipient(user),
                data={
                    "name": user.name,
                    "sign_in_url": f"{self._public_url}/sign-in",
                    "reset_url": f"{self._public_url}/forgot-password",
                },
                idempotency_key=self._ids.new("eml", now),
            )
        )


def _recipient(user: User) -> Recipient:
    """A user as the notifications system reaches them (the link emails go to the
    address even before it is verified: they are how it gets verified)."""
    return Recipient(user_id=user.id, email=user.email, name=user.name or None)
