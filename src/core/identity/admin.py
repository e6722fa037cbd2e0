"""Platform staff: the people who run the service, on an axis of their own.

A staff role (``support``, ``ops``, ``superadmin``) is not a workspace role: it grants
nothing inside a workspace, and a workspace role grants nothing here. Staff are made by
the CLI (``ninefold staff create``), never over HTTP. What each role may do:

- ``support`` reads users (search, one user) and the mail: the outbox, the deliveries
  and the suppression list (``mail:read``);
- ``ops`` also bans and unbans users, operates the jobs: looks at jobs and queues
  (``jobs:read``), retries, cancels and replays them (``jobs:manage``), and adds and
  removes suppressed addresses (``notifications:manage``);
- ``superadmin`` also changes staff roles.

A ban ends every session of the user at once and refuses their sign-in (403
``identity/account-banned``) until an unban; staff and oneself cannot be banned. The
reason is recorded in the ``identity.user_banned`` event (the outbox keeps it), not on the
user.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Sequence

import msgspec

from core.identity.errors import EmailTakenError
from core.identity.events import StaffRoleChanged, UserBanned, UserRegistered, UserUnbanned
from core.identity.model import StaffRole, User, normalize_email
from core.identity.ports import PasswordHasher, PasswordPolicy, SessionRepository, UserRepository
from core.identity.service import USER_NAME_MAX_LENGTH, check_new_password
from core.kernel import (
    Clock,
    ConflictError,
    DomainError,
    IdGenerator,
    NotFoundError,
    UnitOfWork,
    ValidationError,
)

USERS_PAGE_MAX = 100
USERS_PAGE_DEFAULT = 50
BAN_REASON_MAX_LENGTH = 500


class StaffPermission(enum.StrEnum):
    USERS_READ = "users:read"
    USERS_BAN = "users:ban"
    STAFF_MANAGE = "staff:manage"
    JOBS_READ = "jobs:read"
    JOBS_MANAGE = "jobs:manage"
    MAIL_READ = "mail:read"
    NOTIFICATIONS_MANAGE = "notifications:manage"
    BILLING_READ = "billing:read"  # subscriptions, provider webhook events
    BILLING_MANAGE = "billing:manage"  # replay webhook events, grant credits
    SAFETY_READ = "safety:read"  # flags, kill switches, breakers, the audit log
    SAFETY_MANAGE = "safety:manage"  # change flags, kill switches and breakers
    IMPERSONATE = "users:impersonate"  # act as a user, for a reason, for a while
    DATA_MANAGE = "data:manage"  # export and erase users' and workspaces' data


STAFF_PERMISSIONS: dict[StaffRole, frozenset[StaffPermission]] = {
    StaffRole.SUPPORT: frozenset(
        {
            StaffPermission.USERS_READ,
            StaffPermission.MAIL_READ,
            StaffPermission.BILLING_READ,
            StaffPermission.SAFETY_READ,
            StaffPermission.IMPERSONATE,
        }
    ),
    StaffRole.OPS: frozenset(
        {
            StaffPermission.USERS_READ,
            StaffPermission.USERS_BAN,
            StaffPermission.JOBS_READ,
            StaffPermission.JOBS_MANAGE,
            StaffPermission.MAIL_READ,
            StaffPermission.NOTIFICATIONS_MANAGE,
            StaffPermission.BILLING_READ,
            StaffPermission.BILLING_MANAGE,
            StaffPermission.SAFETY_READ,
            StaffPermission.SAFETY_MANAGE,
            StaffPermission.IMPERSONATE,
        }
    ),
    StaffRole.SUPERADMIN: frozenset(StaffPermission),
}


def staff_allows(role: StaffRole | None, permission: StaffPermission) -> bool:
    return role is not None and permission in STAFF_PERMISSIONS[role]


class StaffPermissionError(DomainError):
    """The staff member's role does not grant this (a non-staff user never gets here:
    the HTTP guard answers 404 first)."""

    type = "identity/staff-permission-denied"
    status = 403
    title = "Your staff role does not allow this."


class StaffTwoFactorRequiredError(DomainError):
    type = "identity/staff-2fa-required"
    status = 403
    title = "Turn on two-factor authentication to use the staff endpoints."


class UserNotFoundError(NotFoundError):
    type = "identity/user-not-found"
    title = "There is no such user."


class BanNotAllowedError(ConflictError):
    """Staff cannot be banned (take their staff role away first), nor can oneself."""

    type = "identity/ban-not-allowed"
    title = "This account cannot be banned."


class AlreadyStaffError(ConflictError):
    type = "identity/already-staff"
    title = "This user is staff already."


class UsersPage(msgspec.Struct, kw_only=True):
    users: list[User]
    next_cursor: str | None
    """The id to pass as ``cursor`` for the next page; None on the last page."""


class StaffCreated(msgspec.Struct, kw_only=True):
    user: User
    promoted: bool
    """True when an existing user was made staff (their password unchanged)."""


class StaffService:
    """Platform staff use cases, bound to one unit of work. ``actor`` is the staff user
    acting; CLI commands act as the operator (shell access to the server) and pass none."""

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        users: UserRepository,
        sessions: SessionRepository,
        hasher: PasswordHasher,
        policy: PasswordPolicy,
        clock: Clock,
        ids: IdGenerator,
    ) -> None:
        self._uow = uow
        self._users = users
        self._sessions = sessions
        self._hasher = hasher
        self._policy = policy
        self._clock = clock
        self._ids = ids

    # --- reading users --------------------------------------------------------------

    async def search_users(
        self,
        actor: User,
        query: str = "",
        cursor: str | None = None,
        limit: int = USERS_PAGE_DEFAULT,
    ) -> UsersPage:
        """Users whose email starts with ``query`` (case-insensitive), ordered by id; a
        page at a time, ``cursor`` being the last id of the page before."""
        _require(actor, StaffPermission.USERS_READ)
        if not 1 <= limit <= USERS_PAGE_MAX:
            raise ValidationError(f"limit is 1 to {USERS_PAGE_MAX}", field="limit")
        found = await self._users.search(
            query.strip().lower(), after=cursor or None, limit=limit + 1
        )
        page = list(found[:limit])
        next_cursor = page[-1].id if len(found) > limit else None
        return UsersPage(users=page, next_cursor=next_cursor)

    async def get_user(self, actor: User, user_id: str) -> User:
        _require(actor, StaffPermission.USERS_READ)
        return await self._get(user_id)

    # --- bans -----------------------------------------------------------------------

    async def ban(self, actor: User, user_id: str, reason: str) -> User:
        """Ban a user and end all their sessions. Banning a banned user changes nothing."""
        _require(actor, StaffPermission.USERS_BAN)
        reason = reason.strip()
        if not 1 <= len(reason) <= BAN_REASON_MAX_LENGTH:
            raise ValidationError(
                f"a ban reason has 1 to {BAN_REASON_MAX_LENGTH} characters", field="reason"
            )
        user = await self._get(user_id)
        if user.id == actor.id:
            raise BanNotAllowedError("you cannot ban yourself")
        if user.staff_role is not None:
            raise BanNotAllowedError("staff cannot be banned: remove their staff role first")
        if user.is_banned:
            return user
        now = self._clock.now()
        await self._users.set_banned(user.id, now)
        await self._sessions.revoke_all(user.id, now)
        user.banned_at = now
        self._uow.raise_event(
            UserBanned(occurred_at=now, user_id=user.id, banned_by=actor.id, reason=reason)
        )
        return user

    async def unban(self, actor: User, user_id: str) -> User:
        """Lift a ban: the user may sign in again. Unbanning an unbanned user changes
        nothing."""
        _require(actor, StaffPermission.USERS_BAN)
        user = await self._get(user_id)
        if not user.is_banned:
            return user
        now = self._clock.now()
        await self._users.set_banned(user.id, None)
        user.banned_at = None
        self._uow.raise_event(UserUnbanned(occurred_at=now, user_id=user.id, unbanned_by=actor.id))
        return user

    # --- staff ----------------------------------------------------------------------

    async def list_staff(self) -> Sequence[User]:
        return await self._users.search("", staff_only=True, limit=None)

    async def find_by_email(self, email: str) -> User | None:
        return await self._users.get_by_email(normalize_email(email))

    async def create_staff(
        self, email: str, role: StaffRole, password: str | None, name: str = ""
    ) -> StaffCreated:
        """Create a staff account, its email verified; or, when a user who is not staff
        has the email, promote them (their password stays: ``password`` may be None
        then). A user who is staff already is refused: change their role instead."""
        normalized = normalize_email(email)
        existing = await self._users.get_by_email(normalized)
        if existing is not None:
            if existing.staff_role is not None:
                raise AlreadyStaffError(
                    f"{normalized} is staff already ({existing.staff_role}): use set-role"
                )
            await self._users.set_staff_role(existing.id, role)
            existing.staff_role = role
            self._staff_role_changed(existing.id, None, role)
            return StaffCreated(user=existing, promoted=True)
        if password is None:
            raise ValidationError("a new staff account needs a password", field="password")
        name = name.strip()[:USER_NAME_MAX_LENGTH] or normalized.split("@")[0]
        check_new_password(self._policy, password, normalized, name)
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        now = self._clock.now()
        user = User(
            id=self._ids.new("usr", now),
            email=normalized,
            name=name,
            password_hash=password_hash,
            created_at=now,
            staff_role=role,
            email_verified_at=now,  # the operator vouches for it
        )
        try:
            await self._users.add(user)
        except EmailTakenError as exc:  # created since the lookup
            raise AlreadyStaffError(f"{normalized} was registered meanwhile: run again") from exc
        self._uow.raise_event(UserRegistered(occurred_at=now, user_id=user.id, email=user.email))
        self._staff_role_changed(user.id, None, role)
        return StaffCreated(user=user, promoted=False)

    async def set_staff_role(
        self, email: str, role: StaffRole | None, actor: User | None = None
    ) -> User:
        """Give a user a staff role, change it, or (None) take it away. Only a superadmin
        may, when an actor is given; the CLI acts as the operator."""
        if actor is not None:
            _require(actor, StaffPermission.STAFF_MANAGE)
        user = await self._users.get_by_email(normalize_email(email))
        if user is None:
            raise UserNotFoundError(f"no user has the email {email.strip()!r}")
        if user.staff_role != role:
            await self._users.set_staff_role(user.id, role)
            self._staff_role_changed(user.id, user.staff_role, role)
            user.staff_role = role
        return user

    def _staff_role_changed(
        self, user_id: str, from_role: StaffRole | None, role: StaffRole | None
    ) -> None:
        self._uow.raise_event(
            StaffRoleChanged(
                occurred_at=self._clock.now(), user_id=user_id, from_role=from_role, role=role
            )
        )

    async def _get(self, user_id: str) -> User:
        user = await self._users.get(user_id)
        if user is None:
            raise UserNotFoundError()
        return user


def _require(actor: User, permission: StaffPermission) -> None:
    if not staff_allows(actor.staff_role, permission):
        raise StaffPermissionError(f"this needs the staff permission {permission}")
