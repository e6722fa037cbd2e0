"""Impersonation: a staff member acts as a user, for a reason and for a while, to see
what the user sees (docs/systems/safety/impersonation.md).

Starting one opens a session of the user's own, linked to the staff member's session and
ended with the impersonation; the staff member's session is never touched, so stopping
returns to it. The rules: a staff role that grants ``users:impersonate``; a reason; at
most ``max_duration`` (one hour, configurable lower); never staff, a banned user or
oneself; one at a time per staff member. Every start, stop and expiry is an event that is
also an audit entry, and so is every request made while impersonating
(``ImpersonatedAction``), stamped with both the staff member's and the user's ids.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

import msgspec

from core.identity import (
    SessionService,
    SignedIn,
    StaffPermission,
    User,
    UserNotFoundError,
    hash_token,
    staff_allows,
)
from core.kernel import (
    Clock,
    ConflictError,
    DomainError,
    DomainEvent,
    IdGenerator,
    NotFoundError,
    UnitOfWork,
    ValidationError,
)
from core.kernel.events import AwareDatetime

IMPERSONATION_MAX = timedelta(hours=1)
REASON_MAX = 500
PAGE_MAX = 100
PAGE_DEFAULT = 50


class EndReason(enum.StrEnum):
    STOPPED = "stopped"  # by the impersonator, or ended by other staff
    EXPIRED = "expired"  # its time ran out


class Impersonation(msgspec.Struct, kw_only=True):
    """One impersonation: who acted as whom, why, and for how long."""

    id: str  # imp_…
    staff_id: str
    user_id: str
    reason: str
    started_at: AwareDatetime
    expires_at: AwareDatetime
    staff_session_id: str  # the staff member's own session, which stop returns to
    session_id: str  # the user's session opened for the impersonation
    ended_at: AwareDatetime | None = None
    ended_reason: EndReason | None = None
    ended_by: str | None = None  # who stopped it; None when it expired

    def is_active(self, now: datetime) -> bool:
        return self.ended_at is None and now < self.expires_at

    def is_overdue(self, now: datetime) -> bool:
        """Past its time but not yet recorded as expired."""
        return self.ended_at is None and now >= self.expires_at


# --- errors -------------------------------------------------------------------------


class ImpersonationNotAllowedError(DomainError):
    type = "safety/impersonation-not-allowed"
    status = 403
    title = "Your staff role does not allow impersonation."


class ImpersonationTargetStaffError(DomainError):
    type = "safety/impersonation-target-staff"
    status = 403
    title = "Staff cannot be impersonated."


class ImpersonationTargetBannedError(DomainError):
    type = "safety/impersonation-target-banned"
    status = 403
    title = "A banned user cannot be impersonated."


class ImpersonationOfOneselfError(DomainError):
    type = "safety/impersonation-of-oneself"
    status = 403
    title = "You cannot impersonate yourself."


class AlreadyImpersonatingError(ConflictError):
    type = "safety/already-impersonating"
    title = "You are impersonating someone already: stop that first."


class ImpersonationReasonError(ValidationError):
    type = "safety/reason-required"
    title = "Say why: a reason is required."


class ImpersonationTooLongError(ValidationError):
    type = "safety/impersonation-too-long"
    title = "An impersonation lasts at most the configured maximum."


class ImpersonationNotFoundError(NotFoundError):
    type = "safety/impersonation-not-found"
    title = "There is no such impersonation."


class ImpersonationActiveError(DomainError):
    """Staff endpoints refused to an impersonation session."""

    type = "safety/impersonation-active"
    status = 403
    title = "Stop the impersonation to use the staff endpoints."


class ImpersonationEndedError(DomainError):
    """A request with the session of an impersonation that has ended."""

    type = "safety/impersonation-ended"
    status = 401
    title = "The impersonation has ended: return to your own session."


class NotImpersonatingError(ConflictError):
    type = "safety/not-impersonating"
    title = "This session is not an impersonation."


# --- events (each one an audit entry, see core.kernel.events) -----------------------


class ImpersonationStarted(DomainEvent, frozen=True, kw_only=True):
    """A staff member started acting as a user."""

    name = "safety.impersonation_started"
    audit_action = "impersonation.started"
    audit_target = ("user", "user_id")

    impersonation_id: str
    staff_id: str
    user_id: str
    reason: str
    expires_at: AwareDatetime


class ImpersonationStopped(DomainEvent, frozen=True, kw_only=True):
    """An impersonation was stopped: by its staff member, or ended by other staff."""

    name = "safety.impersonation_stopped"
    audit_action = "impersonation.stopped"
    audit_target = ("user", "user_id")

    impersonation_id: str
    staff_id: str
    user_id: str
    stopped_by: str


class ImpersonationExpired(DomainEvent, frozen=True, kw_only=True):
    """An impersonation ran out of time (``occurred_at`` is when it did)."""

    name = "safety.impersonation_expired"
    audit_action = "impersonation.expired"
    audit_target = ("user", "user_id")

    impersonation_id: str
    staff_id: str
    user_id: str


class ImpersonatedAction(DomainEvent, frozen=True, kw_only=True):
    """A request made with an impersonation session, and how it was answered."""

    name = "safety.impersonated_action"
    audit_action = "impersonation.action"
    audit_target = ("user", "user_id")

    impersonation_id: str
    staff_id: str
    user_id: str
    method: str
    path: str
    status: int


IMPERSONATION_EVENTS: tuple[type[DomainEvent], ...] = (
    ImpersonationStarted,
    ImpersonationStopped,
    ImpersonationExpired,
    ImpersonatedAction,
)


# --- ports --------------------------------------------------------------------------


class UserLookup(Protocol):
    """What impersonation asks identity about a target (identity's user repository)."""

    async def get(self, user_id: str) -> User | None: ...


class ImpersonationStore(Protocol):
    """Impersonations, in the caller's transaction."""

    async def add(self, impersonation: Impersonation, token_hash: str) -> None:
        """Store a new one with the hash of its session's token."""
        ...

    async def get(self, impersonation_id: str) -> Impersonation | None: ...

    async def by_token_hash(self, token_hash: str) -> Impersonation | None:
        """The impersonation whose session has this token hash, ended or not."""
        ...

    async def open_of_staff(self, staff_id: str) -> Sequence[Impersonation]:
        """The staff member's impersonations not yet recorded as ended."""
        ...

    async def latest_of_staff_session(self, staff_session_id: str) -> Impersonation | None:
        """The last impersonation started from this staff session."""
        ...

    async def overdue(self, now: datetime, *, limit: int = 100) -> Sequence[Impersonation]:
        """Not ended, past their expiry."""
        ...

    async def page(
        self,
        *,
        active_at: datetime | None = None,
        staff_id: str | None = None,
        user_id: str | None = None,
        before: str | None = None,
        limit: int = PAGE_DEFAULT,
    ) -> Sequence[Impersonation]:
        """Newest first; with ``active_at`` only those active then; ``before`` an id."""
        ...

    async def end(
        self, impersonation_id: str, *, at: datetime, reason: EndReason, by: str | None
    ) -> bool:
        """Record the end unless it is recorded already; whether this call did."""
        ...


# --- use cases ----------------------------------------------------------------------


class Started:
    """The outcome of a start: the impersonation and its session (token shown once)."""

    def __init__(self, impersonation: Impersonation, signed_in: SignedIn) -> None:
        self.impersonation = impersonation
        self.signed_in = signed_in


class ImpersonationPage(msgspec.Struct, kw_only=True):
    impersonations: list[Impersonation]
    next_cursor: str | None


def check_duration(minutes: int | None, maximum: timedelta) -> timedelta:
    """The duration asked for (the maximum when none), refused beyond the maximum."""
    if minutes is None:
        return maximum
    if minutes < 1 or timedelta(minutes=minutes) > maximum:
        limit = int(maximum.total_seconds() // 60)
        raise ImpersonationTooLongError(
            f"an impersonation lasts 1 to {limit} minutes", field="minutes", max_minutes=limit
        )
    return timedelta(minutes=minutes)


def check_reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise ImpersonationReasonError(
            "say why you impersonate this user (a ticket, what you debug)", field="reason"
        )
    if len(reason) > REASON_MAX:
        raise ImpersonationReasonError(
            f"a reason is at most {REASON_MAX} characters", field="reason"
        )
    return reason


def check_target(staff: User, target: User) -> None:
    """Refuse oneself, staff and banned users."""
    if target.id == staff.id:
        raise ImpersonationOfOneselfError()
    if target.staff_role is not None:
        raise ImpersonationTargetStaffError(
            "staff cannot be impersonated, whatever their role", user_id=target.id
        )
    if target.is_banned:
        raise ImpersonationTargetBannedError(
            "lift the ban first if you must see what the user sees", user_id=target.id
        )


def require_permission(staff: User, permission: StaffPermission) -> None:
    if not staff_allows(staff.staff_role, permission):
        raise ImpersonationNotAllowedError(f"this needs the staff permission {permission}")


class ImpersonationService:
    """Starting, stopping and expiring impersonations, in the caller's unit of work.
    ``sessions`` is identity's session service on the same transaction."""

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        store: ImpersonationStore,
        users: UserLookup,
        sessions: SessionService,
        clock: Clock,
        ids: IdGenerator,
        max_duration: timedelta = IMPERSONATION_MAX,
    ) -> None:
        self._uow = uow
        self._store = store
        self._users = users
        self._sessions = sessions
        self._clock = clock
        self._ids = ids
        self._max = min(max_duration, IMPERSONATION_MAX)

    @property
    def max_duration(self) -> timedelta:
        return self._max

    async def start(
        self,
        staff: User,
        staff_session_id: str,
        user_id: str,
        reason: str,
        minutes: int | None = None,
        *,
        ip: str = "",
        user_agent: str = "",
    ) -> Started:
        """Open a session as ``user_id`` for ``staff``; its token is in the outcome."""
        require_permission(staff, StaffPermission.IMPERSONATE)
        reason = check_reason(reason)
        duration = check_duration(minutes, self._max)
        target = await self._users.get(user_id)
        if target is None:
            raise UserNotFoundError()
        check_target(staff, target)
        now = self._clock.now()
        for open_one in await self._store.open_of_staff(staff.id):
            if open_one.is_active(now):
                raise AlreadyImpersonatingError(
                    f"stop impersonation {open_one.id} first", impersonation_id=open_one.id
                )
            await self._expire(open_one)
        expires_at = now + duration
        signed_in = await self._sessions.open_session(
            target, ip=ip, user_agent=user_agent, until=expires_at, impersonation=True
        )
        impersonation = Impersonation(
            id=self._ids.new("imp", now),
            staff_id=staff.id,
            user_id=target.id,
            reason=reason,
            started_at=now,
            expires_at=expires_at,
            staff_session_id=staff_session_id,
            session_id=signed_in.session.id,
        )
        await self._store.add(impersonation, signed_in.session.token_hash)
        self._uow.raise_event(
            ImpersonationStarted(
                occurred_at=now,
                impersonation_id=impersonation.id,
                staff_id=staff.id,
                user_id=target.id,
                reason=reason,
                expires_at=expires_at,
            )
        )
        return Started(impersonation=impersonation, signed_in=signed_in)

    async def current(self, token: str) -> Impersonation | None:
        """The impersonation a session token belongs to, ended or not; one past its time
        is recorded as expired on the way (lazily: see ``expire_overdue`` too)."""
        found = await self._store.by_token_hash(hash_token(token))
        if found is not None and found.is_overdue(self._clock.now()):
            await self._expire(found)
        return found

    async def stop(self, impersonation: Impersonation, by: str) -> Impersonation:
        """End it and its session: by its staff member (from the impersonation session),
        or by other staff. One that ran out of time is recorded as expired instead."""
        now = self._clock.now()
        if impersonation.ended_at is not None:
            return impersonation
        if impersonation.is_overdue(now):
            await self._expire(impersonation)
            return impersonation
        if await self._store.end(impersonation.id, at=now, reason=EndReason.STOPPED, by=by):
            await self._sessions.end_session(impersonation.session_id)
            self._uow.raise_event(
                ImpersonationStopped(
                    occurred_at=now,
                    impersonation_id=impersonation.id,
                    staff_id=impersonation.staff_id,
                    user_id=impersonation.user_id,
                    stopped_by=by,
                )
            )
        impersonation.ended_at = now
        impersonation.ended_reason = EndReason.STOPPED
        impersonation.ended_by = by
        return impersonation

    async def end(self, staff: User, impersonation_id: str) -> Impersonation:
        """Staff end an impersonation forcibly: its own staff member may, and so may
        staff whose role lets them change the safety settings (ops, superadmin)."""
        impersonation = await self.get(staff, impersonation_id)
        if impersonation.staff_id != staff.id:
            require_permission(staff, StaffPermission.SAFETY_MANAGE)
        return await self.stop(impersonation, staff.id)

    async def get(self, staff: User, impersonation_id: str) -> Impersonation:
        require_permission(staff, StaffPermission.SAFETY_READ)
        found = await self._store.get(impersonation_id)
        if found is None:
            raise ImpersonationNotFoundError()
        if found.is_overdue(self._clock.now()):
            await self._expire(found)
        return found

    async def list(
        self,
        staff: User,
        *,
        active: bool = False,
        staff_id: str | None = None,
        user_id: str | None = None,
        cursor: str | None = None,
        limit: int = PAGE_DEFAULT,
    ) -> ImpersonationPage:
        """Newest first, a page at a time (``cursor``: the last id of the page before).
        Overdue ones are recorded as expired first."""
        require_permission(staff, StaffPermission.SAFETY_READ)
        if not 1 <= limit <= PAGE_MAX:
            raise ValidationError(f"limit is 1 to {PAGE_MAX}", field="limit")
        await self.expire_overdue()
        found = await self._store.page(
            active_at=self._clock.now() if active else None,
            staff_id=staff_id,
            user_id=user_id,
            before=cursor or None,
            limit=limit + 1,
        )
        page = list(found[:limit])
        return ImpersonationPage(
            impersonations=page, next_cursor=page[-1].id if len(found) > limit else None
        )

    async def expire_overdue(self) -> int:
        """Record every impersonation past its time as expired; how many."""
        overdue = await self._store.overdue(self._clock.now())
        for impersonation in overdue:
            await self._expire(impersonation)
        return len(overdue)

    async def _expire(self, impersonation: Impersonation) -> None:
        at = impersonation.expires_at
        if await self._store.end(impersonation.id, at=at, reason=EndReason.EXPIRED, by=None):
            # The session expired with it (it was opened ``until`` then); ending it too
            # keeps the two in step should the clock have been moved.
            await self._sessions.end_session(impersonation.session_id)
            self._uow.raise_event(
                ImpersonationExpired(
                    occurred_at=at,
                    impersonation_id=impersonation.id,
                    staff_id=impersonation.staff_id,
                    user_id=impersonation.user_id,
                )
            )
        impersonation.ended_at = at
        impersonation.ended_reason = EndReason.EXPIRED
        impersonation.ended_by = None
