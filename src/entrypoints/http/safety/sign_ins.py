"""Sign-ins in the audit log: ``auth.signed_in`` with the session it opened (in the
sign-in's transaction), and ``auth.sign_in_failed`` for a wrong password, a wrong
second factor or a banned account (in a transaction of its own, the sign-in's being
rolled back). A failure names the account when the email (or the two-factor challenge)
belongs to one; its actor is an unidentified user. Throttled attempts (429) are not
recorded: the throttle stops them before any password is checked."""

from __future__ import annotations

from typing import Any

from litestar import Request

from adapters.sql.identity.repositories import SqlEmailTokenRepository, SqlUserRepository
from adapters.sql.uow import SqlUnitOfWork
from core.identity import InvalidEmailError, SignedIn, hash_token, normalize_email
from core.identity.model import TokenPurpose
from core.kernel import DomainError
from core.safety import ActorType, AuditRecord
from entrypoints.containers import ApplicationContainer
from entrypoints.http.safety.acting import record, record_refusal


async def signed_in(
    request: Request[Any, Any, Any], uow: SqlUnitOfWork, opened: SignedIn, *, method: str
) -> None:
    user = opened.user
    await record(
        request,
        uow,
        AuditRecord(
            action="auth.signed_in",
            actor_type=ActorType.USER,
            actor_id=user.id,
            target_type="user",
            target_id=user.id,
            after={"method": method, "session_id": opened.session.id},
        ),
    )


async def _account_of(
    container: ApplicationContainer, email: str | None, challenge: str | None
) -> str | None:
    async with container.database.read_session_factory()() as session:
        if email is not None:
            try:
                normalized = normalize_email(email)
            except InvalidEmailError:
                return None
            user = await SqlUserRepository(session).get_by_email(normalized)
            return user.id if user is not None else None
        if challenge:
            found = await SqlEmailTokenRepository(session).find_usable(
                hash_token(challenge),
                TokenPurpose.TWO_FACTOR_CHALLENGE,
                container.kernel.clock().now(),
            )
            return found.user_id if found is not None else None
    return None


async def sign_in_refused(
    request: Request[Any, Any, Any],
    uow: SqlUnitOfWork,
    refused: DomainError,
    *,
    email: str | None = None,
    challenge: str | None = None,
) -> None:
    """Roll the sign-in's transaction back (the refusal is about to do so anyway; on
    SQLite it holds the one write lock) and record the failure in one of its own."""
    await uow.rollback()
    container: ApplicationContainer = request.app.state.container
    user_id = await _account_of(container, email, challenge)
    await record_refusal(
        request,
        AuditRecord(
            action="auth.sign_in_failed",
            target_type="user" if user_id else None,
            target_id=user_id,
            after={
                "problem": refused.type,
                "step": "password" if challenge is None else "two_factor",
            },
        ),
    )
