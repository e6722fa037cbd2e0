"""Impersonation's rules, on in-memory fakes: who may, whom, why, for how long; stop,
forced end and expiry, each recorded once as an event that is also an audit entry."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from adapters.memory.identity import (
    FastInsecurePasswordHasher,
    InMemoryEmailTokenRepository,
    InMemorySessionRepository,
    InMemoryUserRepository,
)
from adapters.memory.impersonations import InMemoryImpersonationStore
from adapters.memory.ratelimit import InMemoryRateLimiter
from core.identity import (
    IMPERSONATION_TOKEN_PREFIX,
    IdentityThrottle,
    SessionPolicy,
    SessionService,
    StaffRole,
    User,
    UserNotFoundError,
)
from core.kernel import DomainEvent, FixedClock, IdGenerator
from core.safety.impersonation import (
    IMPERSONATION_MAX,
    AlreadyImpersonatingError,
    EndReason,
    ImpersonationExpired,
    ImpersonationNotAllowedError,
    ImpersonationNotFoundError,
    ImpersonationOfOneselfError,
    ImpersonationReasonError,
    ImpersonationService,
    ImpersonationStarted,
    ImpersonationStopped,
    ImpersonationTargetBannedError,
    ImpersonationTargetStaffError,
    ImpersonationTooLongError,
    check_duration,
)

REASON = "ticket 4521: the invoice page is blank"


class Events:
    """The unit of work as the service sees it: somewhere to raise events."""

    def __init__(self) -> None:
        self.raised: list[DomainEvent] = []

    def raise_event(self, event: DomainEvent) -> None:
        self.raised.append(event)

    def of(self, kind: type[DomainEvent]) -> list[Any]:
        return [e for e in self.raised if isinstance(e, kind)]


class World:
    def __init__(self, max_duration: timedelta = IMPERSONATION_MAX) -> None:
        self.clock = FixedClock()
        self.users = InMemoryUserRepository()
        self.session_store = InMemorySessionRepository(self.users)
        hasher = FastInsecurePasswordHasher()
        self.sessions = SessionService(
            users=self.users,
            sessions=self.session_store,
            challenges=InMemoryEmailTokenRepository(),
            hasher=hasher,
            dummy_hash=hasher.hash("dummy"),
            clock=self.clock,
            ids=IdGenerator(),
            policy=SessionPolicy(),
            throttle=IdentityThrottle(InMemoryRateLimiter(self.clock)),
        )
        self.store = InMemoryImpersonationStore()
        self.events = Events()
        self.service = ImpersonationService(
            uow=self.events,  # type: ignore[arg-type]
            store=self.store,
            users=self.users,
            sessions=self.sessions,
            clock=self.clock,
            ids=IdGenerator(),
            max_duration=max_duration,
        )

    async def user(self, name: str, role: StaffRole | None = None, *, banned: bool = False) -> User:
        user = User(
            id=f"usr_{name}",
            email=f"{name}@example.com",
            name=name,
            password_hash="x",
            created_at=self.clock.now(),
            staff_role=role,
            banned_at=self.clock.now() if banned else None,
        )
        await self.users.add(user)
        return user


@pytest.fixture
def world() -> World:
    return World()


async def test_support_starts_one_and_gets_a_session_of_the_users_own(world: World) -> None:
    support = await world.user("sam", StaffRole.SUPPORT)
    ada = await world.user("ada")

    started = await world.service.start(support, "ses_staff", ada.id, f"  {REASON} ", 20)

    impersonation = started.impersonation
    assert impersonation.reason == REASON
    assert impersonation.expires_at - impersonation.started_at == timedelta(minutes=20)
    assert impersonation.staff_session_id == "ses_staff"
    assert started.signed_in.user.id == ada.id
    assert started.signed_in.token.startswith(IMPERSONATION_TOKEN_PREFIX + "_")
    principal = await world.sessions.authenticate(started.signed_in.token)
    assert principal is not None
    assert principal.session.id == impersonation.session_id
    assert principal.session.expires_at == impersonation.expires_at
    [event] = world.events.of(ImpersonationStarted)
    assert (event.staff_id, event.user_id, event.reason) == (support.id, ada.id, REASON)
    assert event.audit_action == "impersonation.started"


@pytest.mark.parametrize("role", [StaffRole.SUPPORT, StaffRole.OPS, StaffRole.SUPERADMIN])
async def test_every_staff_role_may_impersonate(world: World, role: StaffRole) -> None:
    staff = await world.user("staff", role)
    ada = await world.user("ada")

    started = await world.service.start(staff, "ses_staff", ada.id, REASON)

    assert started.impersonation.expires_at - world.clock.now() == IMPERSONATION_MAX


async def test_a_user_without_a_staff_role_may_not(world: World) -> None:
    bob = await world.user("bob")
    ada = await world.user("ada")

    with pytest.raises(ImpersonationNotAllowedError):
        await world.service.start(bob, "ses_bob", ada.id, REASON)


async def test_staff_banned_users_oneself_and_strangers_are_refused(world: World) -> None:
    support = await world.user("sam", StaffRole.SUPPORT)
    ops = await world.user("olga", StaffRole.OPS)
    banned = await world.user("mallory", banned=True)

    with pytest.raises(ImpersonationTargetStaffError):
        await world.service.start(support, "s", ops.id, REASON)
    with pytest.raises(ImpersonationTargetBannedError):
        await world.service.start(support, "s", banned.id, REASON)
    with pytest.raises(ImpersonationOfOneselfError):
        await world.service.start(support, "s", support.id, REASON)
    with pytest.raises(UserNotFoundError):
        await world.service.start(support, "s", "usr_nobody", REASON)
    assert world.events.raised == []


@pytest.mark.parametrize("reason", ["", "   ", "x" * 501])
async def test_a_reason_is_required_and_bounded(world: World, reason: str) -> None:
    support = await world.user("sam", StaffRole.SUPPORT)
    ada = await world.user("ada")

    with pytest.raises(ImpersonationReasonError):
        await world.service.start(support, "s", ada.id, reason)


def test_the_duration_is_one_minute_to_the_maximum() -> None:
    hour = timedelta(hours=1)

    assert check_duration(None, hour) == hour
    assert check_duration(60, hour) == hour
    assert check_duration(1, hour) == timedelta(minutes=1)
    for minutes in (0, -5, 61):
        with pytest.raises(ImpersonationTooLongError):
            check_duration(minutes, hour)


async def test_a_configured_maximum_is_the_default_and_can_never_exceed_an_hour() -> None:
    lower = World(max_duration=timedelta(minutes=15))
    higher = World(max_duration=timedelta(hours=3))
    for world in (lower, higher):
        await world.user("sam", StaffRole.SUPPORT)
        await world.user("ada")
    support = await lower.users.get("usr_sam")
    assert support is not None

    started = await lower.service.start(support, "s", "usr_ada", REASON)
    with pytest.raises(ImpersonationTooLongError):
        await lower.service.start(support, "s", "usr_ada", REASON, 16)

    assert started.impersonation.expires_at - lower.clock.now() == timedelta(minutes=15)
    assert higher.service.max_duration == IMPERSONATION_MAX


async def test_one_at_a_time_but_an_expired_one_does_not_count(world: World) -> None:
    support = await world.user("sam", StaffRole.SUPPORT)
    ada = await world.user("ada")
    bob = await world.user("bob")
    first = await world.service.start(support, "s", ada.id, REASON, 10)

    with pytest.raises(AlreadyImpersonatingError):
        await world.service.start(support, "s", bob.id, REASON)
    world.clock.advance(timedelta(minutes=10))
    second = await world.service.start(support, "s", bob.id, REASON)

    assert second.impersonation.user_id == bob.id
    [expired] = world.events.of(ImpersonationExpired)
    assert expired.impersonation_id == first.impersonation.id


async def test_stop_ends_the_impersonation_and_its_session_once(world: World) -> None:
    support = await world.user("sam", StaffRole.SUPPORT)
    ada = await world.user("ada")
    started = await world.service.start(support, "s", ada.id, REASON)
    token = started.signed_in.token

    current = await world.service.current(token)
    assert current is not None
    stopped = await world.service.stop(current, support.id)
    again = await world.service.stop(stopped, support.id)

    assert again.ended_reason is EndReason.STOPPED
    assert again.ended_by == support.id
    assert await world.sessions.authenticate(token) is None
    assert len(world.events.of(ImpersonationStopped)) == 1
    found = await world.service.current(token)
    assert found is not None
    assert found.ended_reason is EndReason.STOPPED


async def test_an_overdue_one_is_recorded_as_expired_at_its_expiry(world: World) -> None:
    support = await world.user("sam", StaffRole.SUPPORT)
    ada = await world.user("ada")
    started = await world.service.start(support, "s", ada.id, REASON, 5)
    world.clock.advance(timedelta(minutes=30))

    found = await world.service.current(started.signed_in.token)
    swept = await world.service.expire_overdue()
    assert found is not None
    stopped = await world.service.stop(found, support.id)

    assert found.ended_reason is EndReason.EXPIRED
    assert found.ended_at == started.impersonation.expires_at
    assert stopped.ended_reason is EndReason.EXPIRED
    assert swept == 0
    [expired] = world.events.of(ImpersonationExpired)
    assert expired.occurred_at == started.impersonation.expires_at
    assert world.events.of(ImpersonationStopped) == []


async def test_the_sweep_expires_those_nobody_used_again(world: World) -> None:
    support = await world.user("sam", StaffRole.SUPPORT)
    ops = await world.user("olga", StaffRole.OPS)
    await world.user("ada")
    await world.user("bob")
    await world.service.start(support, "s1", "usr_ada", REASON, 5)
    await world.service.start(ops, "s2", "usr_bob", REASON, 50)
    world.clock.advance(timedelta(minutes=6))

    assert await world.service.expire_overdue() == 1
    page = await world.service.list(ops, active=True)

    assert [i.user_id for i in page.impersonations] == ["usr_bob"]


async def test_other_staff_end_one_only_with_safety_manage(world: World) -> None:
    support = await world.user("sam", StaffRole.SUPPORT)
    helper = await world.user("hal", StaffRole.SUPPORT)
    ops = await world.user("olga", StaffRole.OPS)
    await world.user("ada")
    started = await world.service.start(support, "s", "usr_ada", REASON)
    impersonation_id = started.impersonation.id

    with pytest.raises(ImpersonationNotAllowedError):
        await world.service.end(helper, impersonation_id)
    ended = await world.service.end(ops, impersonation_id)
    with pytest.raises(ImpersonationNotFoundError):
        await world.service.end(ops, "imp_nothing")

    assert ended.ended_by == ops.id
    [stopped] = world.events.of(ImpersonationStopped)
    assert stopped.stopped_by == ops.id
    assert await world.sessions.authenticate(started.signed_in.token) is None


async def test_every_event_is_an_audit_entry_about_the_user() -> None:
    from core.safety.impersonation import IMPERSONATION_EVENTS

    actions = {event.audit_action for event in IMPERSONATION_EVENTS}

    assert actions == {
        "impersonation.started",
        "impersonation.stopped",
        "impersonation.expired",
        "impersonation.action",
    }
    assert {event.audit_target for event in IMPERSONATION_EVENTS} == {("user", "user_id")}
