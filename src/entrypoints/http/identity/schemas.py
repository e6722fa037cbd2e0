"""What the identity routes accept and answer (msgspec Structs: the API contract)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from core.identity import AuthSession, User

Email = Annotated[str, msgspec.Meta(max_length=320, examples=["ada@example.com"])]
Password = Annotated[str, msgspec.Meta(max_length=1024)]


class SignIn(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    password: Password
    transport: Literal["cookie", "bearer"] = "cookie"
    """``cookie`` (browsers): the token goes in an HttpOnly cookie. ``bearer`` (API
    clients): the token is in the answer, for ``Authorization: Bearer``."""


class Me(msgspec.Struct):
    id: str
    email: str
    name: str
    email_verified: bool
    staff_role: str | None
    created_at: datetime
    two_factor_enabled: bool
    impersonated_by: str | None = None
    """On ``GET /api/v1/me`` in an impersonation session: the staff member's id."""

    @classmethod
    def of(cls, user: User) -> Me:
        return cls(
            id=user.id,
            email=user.email,
            name=user.name,
            email_verified=user.email_verified_at is not None,
            staff_role=user.staff_role.value if user.staff_role else None,
            created_at=user.created_at,
            two_factor_enabled=user.two_factor_enabled,
        )


class SessionOut(msgspec.Struct):
    id: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    user_agent: str
    ip: str
    current: bool

    @classmethod
    def of(cls, session: AuthSession, current_id: str) -> SessionOut:
        return cls(
            id=session.id,
            created_at=session.created_at,
            last_seen_at=session.last_seen_at,
            expires_at=min(session.expires_at, session.idle_expires_at),
            user_agent=session.user_agent,
            ip=session.ip,
            current=session.id == current_id,
        )


class SignedInOut(msgspec.Struct, omit_defaults=True):
    user: Me
    session: SessionOut
    token: str | None = None
    """Only with ``transport: bearer``."""
    csrf_token: str | None = None
    """Only with ``transport: cookie``: echo it in ``X-CSRF-Token`` on unsafe requests."""


class MePatch(msgspec.Struct, forbid_unknown_fields=True):
    name: str | msgspec.UnsetType = msgspec.UNSET


class Revoked(msgspec.Struct):
    revoked: int


class SignUp(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    password: Password
    name: Annotated[str, msgspec.Meta(max_length=200)] = ""


class TokenIn(msgspec.Struct, forbid_unknown_fields=True):
    token: Annotated[str, msgspec.Meta(max_length=200)]


class ForgotPassword(msgspec.Struct, forbid_unknown_fields=True):
    email: Email


class ResetPassword(msgspec.Struct, forbid_unknown_fields=True):
    token: Annotated[str, msgspec.Meta(max_length=200)]
    password: Password


class Accepted(msgspec.Struct):
    status: str
    detail: str


Transport = Literal["cookie", "bearer"]
TotpCode = Annotated[str, msgspec.Meta(max_length=16, examples=["123456"])]


class TwoFactorChallengeOut(msgspec.Struct):
    """The answer to a right password when two-factor is on: no session yet. Send the
    challenge with a code to ``POST /api/v1/auth/sign-in/two-factor`` within 5 minutes."""

    challenge: str
    expires_at: datetime
    two_factor_required: bool = True


class TwoFactorSignIn(msgspec.Struct, forbid_unknown_fields=True):
    challenge: Annotated[str, msgspec.Meta(max_length=200)]
    code: TotpCode | None = None
    """The authenticator app's current code."""
    recovery_code: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    """Or one of the recovery codes (each works once)."""
    transport: Transport = "cookie"


class TwoFactorEnrollmentOut(msgspec.Struct):
    secret: str
    """Base32, for typing into an authenticator app by hand."""
    otpauth_uri: str
    """For a QR code."""


class TwoFactorCodeIn(msgspec.Struct, forbid_unknown_fields=True):
    code: TotpCode


class PasswordIn(msgspec.Struct, forbid_unknown_fields=True):
    password: Password


class RecoveryCodesOut(msgspec.Struct, omit_defaults=True):
    recovery_codes: list[str]
    """Shown this once: keep them somewhere safe."""
    token: str | None = None
    """After confirming, by bearer: the session's new token (the old one has ended)."""
    csrf_token: str | None = None
    """After confirming, by cookie: the new session's CSRF token."""
