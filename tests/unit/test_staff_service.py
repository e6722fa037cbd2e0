"""Platform staff use cases on in-memory fakes."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from adapters.memory.identity import (
    FastInsecurePasswordHasher,
    InMemorySessionRepository,
    InMemoryUserRepository,
)
from adapters.memory.password_policy import ListPasswordPolicy
from adapters.memory.uow import InMemoryOutbox, InMemoryUnitOfWork
from core.identity import (
    AlreadyStaffError,
    AuthSession,
    BanNotAllowedError,
    StaffPermissionError,
    StaffRole,
    StaffService,
    User,
    UserNotFoundError,
    WeakPasswordError,
)
from core.kernel import FixedClock, IdGenerator, ValidationError

STRONG = "violet-kestrel-harbour-47"


class World:
    def __init__(self) -> None:
        self.clock = FixedClock()
        self.ids = IdGenerator()
        self.outbox = InMemoryOutbox()
        self.users = InMemoryUserRepository()
        self.sessions = InMemorySessionRepository(self.users)
        self.uow = InMemoryUnitOfWork(self.outbox, self.clock, self.ids)
        self.service = StaffService(
            uow=self.uow,
            users=self.users,
            sessions=self.sessions,
            hasher=FastInsecurePasswordHasher(),
            policy=ListPasswordPolicy(),
            clock=self.clock,
            ids=self.ids,
        )

    async def user(self, email: str, role: StaffRole | None = None) -> User:
        user = User(
            id=self.ids.new("usr", self.clock.now()),
            email=email,
            name=email.split("@", maxsplit=1)[0],
            password_hash="x",
            created_at=self.clock.now(),
            staff_role=role,
        )
        await self.users.add(user)
        return user

    async def session_of(self, user: User) -> AuthSession:
        now = self.clock.now()
        session = AuthSession(
            id=self.ids.new("ses", now),
            user_id=user.id,
            token_hash=self.ids.new("tok", now),
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(days=1),
            idle_expires_at=now + timedelta(days=1),
        )
        await self.sessions.add(session)
        return session

    async def published(self) -> list[tuple[str, dict[str, object]]]:
        await self.uow.commit()
        messages = sorted(self.outbox.messages.values(), key=lambda m: m.id)
        return [(m.name, json.loads(m.payload)) for m in messages]


@pytest.fixture
def world() -> World:
    return World()


async def test_ops_bans_a_user_ending_all_their_sessions(world: World) -> None:
    ops = await world.user("ops@example.com", StaffRole.OPS)
    ada = await world.user("ada@example.com")
    first, second = await world.session_of(ada), await world.session_of(ada)

    banned = await world.service.ban(ops, ada.id, "  spam  ")

    assert banned.banned_at == world.clock.now()
    assert (await world.users.get(ada.id)).is_banned  # type: ignore[union-attr]
    for session in (first, second):
        assert world.sessions.sessions[session.id].revoked_at is not None
    events = await world.published()
    assert [name for name, _ in events] == ["identity.user_banned"]
    assert events[0][1]["user_id"] == ada.id
    assert events[0][1]["banned_by"] == ops.id
    assert events[0][1]["reason"] == "spam"


async def test_banning_a_banned_user_changes_nothing(world: World) -> None:
    ops = await world.user("ops@example.com", StaffRole.OPS)
    ada = await world.user("ada@example.com")
    await world.service.ban(ops, ada.id, "spam")
    first_ban = ada.banned_at
    world.clock.advance(timedelta(hours=1))

    again = await world.service.ban(ops, ada.id, "more spam")

    assert again.banned_at == first_ban
    assert [name for name, _ in await world.published()] == ["identity.user_banned"]


async def test_unban_lifts_the_ban(world: World) -> None:
    admin = await world.user("root@example.com", StaffRole.SUPERADMIN)
    ada = await world.user("ada@example.com")
    await world.service.ban(admin, ada.id, "spam")

    await world.service.unban(admin, ada.id)

    assert not (await world.users.get(ada.id)).is_banned  # type: ignore[union-attr]
    names = [name for name, _ in await world.published()]
    assert names == ["identity.user_banned", "identity.user_unbanned"]


async def test_staff_and_oneself_cannot_be_banned(world: World) -> None:
    ops = await world.user("ops@example.com", StaffRole.OPS)
    support = await world.user("support@example.com", StaffRole.SUPPORT)

    with pytest.raises(BanNotAllowedError):
        await world.service.ban(ops, ops.id, "oops")
    with pytest.raises(BanNotAllowedError):
        await world.service.ban(ops, support.id, "oops")


async def test_support_reads_but_does_not_ban_and_a_user_does_neither(world: World) -> None:
    support = await world.user("support@example.com", StaffRole.SUPPORT)
    ada = await world.user("ada@example.com")

    assert (await world.service.get_user(support, ada.id)).email == ada.email
    with pytest.raises(StaffPermissionError):
        await world.service.ban(support, ada.id, "spam")
    with pytest.raises(StaffPermissionError):
        await world.service.get_user(ada, support.id)
    with pytest.raises(StaffPermissionError):
        await world.service.set_staff_role(ada.email, StaffRole.OPS, actor=support)


async def test_a_ban_needs_a_reason_and_an_existing_user(world: World) -> None:
    ops = await world.user("ops@example.com", StaffRole.OPS)
    ada = await world.user("ada@example.com")

    with pytest.raises(ValidationError):
        await world.service.ban(ops, ada.id, "   ")
    with pytest.raises(UserNotFoundError):
        await world.service.ban(ops, "usr_nobody", "spam")


async def test_users_are_searched_by_email_prefix_a_page_at_a_time(world: World) -> None:
    support = await world.user("support@example.com", StaffRole.SUPPORT)
    for n in range(5):
        await world.user(f"ada{n}@example.com")
        world.clock.advance(timedelta(seconds=1))
    await world.user("bob@example.com")

    first = await world.service.search_users(support, "ADA", limit=2)
    second = await world.service.search_users(support, "ada", first.next_cursor, limit=2)
    third = await world.service.search_users(support, "ada", second.next_cursor, limit=2)

    emails = [u.email for page in (first, second, third) for u in page.users]
    assert emails == [f"ada{n}@example.com" for n in range(5)]
    assert third.next_cursor is None
    with pytest.raises(ValidationError):
        await world.service.search_users(support, limit=101)


async def test_create_staff_checks_the_password_like_sign_up(world: World) -> None:
    with pytest.raises(WeakPasswordError):
        await world.service.create_staff("ops@example.com", StaffRole.OPS, "password")

    created = await world.service.create_staff("Ops@example.com", StaffRole.OPS, STRONG)

    assert not created.promoted
    assert created.user.staff_role is StaffRole.OPS
    assert created.user.email_verified_at is not None
    assert [name for name, _ in await world.published()] == [
        "identity.user_registered",
        "identity.staff_role_changed",  # an audit log entry
    ]


async def test_create_staff_promotes_an_existing_user_and_refuses_staff(world: World) -> None:
    ada = await world.user("ada@example.com")

    created = await world.service.create_staff("ada@example.com", StaffRole.SUPPORT, None)

    assert created.promoted
    assert created.user.id == ada.id
    assert created.user.password_hash == "x"
    with pytest.raises(AlreadyStaffError):
        await world.service.create_staff("ada@example.com", StaffRole.OPS, STRONG)


async def test_only_a_superadmin_changes_staff_roles(world: World) -> None:
    ops = await world.user("ops@example.com", StaffRole.OPS)
    root = await world.user("root@example.com", StaffRole.SUPERADMIN)
    await world.user("ada@example.com")

    with pytest.raises(StaffPermissionError):
        await world.service.set_staff_role("ada@example.com", StaffRole.SUPPORT, actor=ops)
    changed = await world.service.set_staff_role("ada@example.com", StaffRole.SUPPORT, actor=root)
    assert changed.staff_role is StaffRole.SUPPORT
    assert [u.email for u in await world.service.list_staff()] == [
        "ops@example.com",
        "root@example.com",
        "ada@example.com",
    ]
