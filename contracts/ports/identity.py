"""Conformance of the identity repositories.

Provide a fixture ``identity_repositories``: a pair ``(users, workspaces)`` bound to one
open unit of work, and ``clock``.
"""

from __future__ import annotations

from datetime import timedelta

import msgspec
import pytest

from core.identity import (
    AuthSession,
    EmailTakenError,
    Membership,
    SessionRepository,
    User,
    UserRepository,
    Workspace,
    WorkspaceRepository,
    WorkspaceRole,
)
from core.kernel import FixedClock, IdGenerator, TenantContext

Repositories = tuple[UserRepository, WorkspaceRepository]
ids = IdGenerator()


def a_user(clock: FixedClock, email: str) -> User:
    return User(
        id=ids.new("usr", clock.now()),
        email=email,
        name=email.split("@", maxsplit=1)[0],
        password_hash="sha256$x",
        created_at=clock.now(),
    )


def a_workspace(clock: FixedClock, name: str = "Acme") -> Workspace:
    return Workspace(id=ids.new("ws", clock.now()), name=name, created_at=clock.now())


class IdentityRepositoriesContract:
    async def test_a_user_is_found_by_id_and_by_email(
        self, identity_repositories: Repositories, clock: FixedClock
    ) -> None:
        users, _ = identity_repositories
        user = a_user(clock, "ada@example.com")
        await users.add(user)

        assert await users.get(user.id) == user
        assert await users.get_by_email("ada@example.com") == user
        assert await users.get_by_email("nobody@example.com") is None
        assert await users.count() == 1

    async def test_a_second_user_with_the_same_email_is_refused(
        self, identity_repositories: Repositories, clock: FixedClock
    ) -> None:
        users, _ = identity_repositories
        await users.add(a_user(clock, "ada@example.com"))

        with pytest.raises(EmailTakenError):
            await users.add(a_user(clock, "ada@example.com"))
        assert await users.count() == 1

    async def test_a_workspace_is_read_only_through_its_own_tenant_context(
        self, identity_repositories: Repositories, clock: FixedClock
    ) -> None:
        _, workspaces = identity_repositories
        mine, theirs = a_workspace(clock, "Mine"), a_workspace(clock, "Theirs")
        await workspaces.add(mine)
        await workspaces.add(theirs)

        assert await workspaces.get(TenantContext(mine.id)) == mine
        assert await workspaces.get(TenantContext("ws_unknown")) is None

    async def test_members_are_listed_per_tenant_and_per_user(
        self, identity_repositories: Repositories, clock: FixedClock
    ) -> None:
        users, workspaces = identity_repositories
        ada, bob = a_user(clock, "ada@example.com"), a_user(clock, "bob@example.com")
        one, two = a_workspace(clock, "One"), a_workspace(clock, "Two")
        for user in (ada, bob):
            await users.add(user)
        for workspace in (one, two):
            await workspaces.add(workspace)
        for workspace, user, role in [
            (one, ada, WorkspaceRole.OWNER),
            (one, bob, WorkspaceRole.MEMBER),
            (two, bob, WorkspaceRole.OWNER),
        ]:
            membership = Membership(
                workspace_id=workspace.id, user_id=user.id, role=role, created_at=clock.now()
            )
            await workspaces.add_member(TenantContext(workspace.id), membership)

        members = await workspaces.members(TenantContext(one.id))
        assert {(m.user_id, m.role) for m in members} == {
            (ada.id, WorkspaceRole.OWNER),
            (bob.id, WorkspaceRole.MEMBER),
        }
        assert {m.workspace_id for m in await workspaces.memberships_of(bob.id)} == {one.id, two.id}

    async def test_a_membership_cannot_be_added_through_another_tenant(
        self, identity_repositories: Repositories, clock: FixedClock
    ) -> None:
        users, workspaces = identity_repositories
        ada = a_user(clock, "ada@example.com")
        await users.add(ada)
        one, two = a_workspace(clock, "One"), a_workspace(clock, "Two")
        await workspaces.add(one)
        await workspaces.add(two)
        membership = Membership(
            workspace_id=one.id, user_id=ada.id, role=WorkspaceRole.OWNER, created_at=clock.now()
        )

        with pytest.raises(ValueError, match="tenant"):
            await workspaces.add_member(TenantContext(two.id), membership)


def a_session(clock: FixedClock, user: User, token_hash: str, **changes: object) -> AuthSession:
    now = clock.now()
    session = AuthSession(
        id=ids.new("ses", now),
        user_id=user.id,
        token_hash=token_hash,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(days=30),
        idle_expires_at=now + timedelta(days=7),
        user_agent="test",
        ip="127.0.0.1",
    )
    return msgspec.structs.replace(session, **changes)


class SessionRepositoryContract:
    """Provide ``session_repositories``: ``(users, sessions)`` on one unit of work."""

    async def test_a_live_session_is_found_with_its_user_by_token_hash(
        self, session_repositories: tuple[UserRepository, SessionRepository], clock: FixedClock
    ) -> None:
        users, sessions = session_repositories
        ada = a_user(clock, "ada@example.com")
        await users.add(ada)
        session = a_session(clock, ada, "a" * 64)
        await sessions.add(session)

        found = await sessions.find_active("a" * 64, clock.now())

        assert found == (session, ada)
        assert await sessions.find_active("b" * 64, clock.now()) is None

    async def test_expired_idle_or_revoked_sessions_are_not_found(
        self, session_repositories: tuple[UserRepository, SessionRepository], clock: FixedClock
    ) -> None:
        users, sessions = session_repositories
        ada = a_user(clock, "ada@example.com")
        await users.add(ada)
        now = clock.now()
        await sessions.add(a_session(clock, ada, "1" * 64, expires_at=now))
        await sessions.add(a_session(clock, ada, "2" * 64, idle_expires_at=now))
        revoked = a_session(clock, ada, "3" * 64)
        await sessions.add(revoked)
        await sessions.revoke(revoked.id, now)

        for token_hash in ("1" * 64, "2" * 64, "3" * 64):
            assert await sessions.find_active(token_hash, now) is None
        assert await sessions.list_active(ada.id, now) == []

    async def test_touching_moves_the_idle_expiry(
        self, session_repositories: tuple[UserRepository, SessionRepository], clock: FixedClock
    ) -> None:
        users, sessions = session_repositories
        ada = a_user(clock, "ada@example.com")
        await users.add(ada)
        session = a_session(clock, ada, "a" * 64)
        await sessions.add(session)
        later = clock.now() + timedelta(days=6)

        await sessions.touch(session.id, later, later + timedelta(days=7))

        found = await sessions.find_active("a" * 64, later + timedelta(days=3))
        assert found is not None
        assert found[0].last_seen_at == later

    async def test_sessions_are_listed_and_read_only_by_their_own_user(
        self, session_repositories: tuple[UserRepository, SessionRepository], clock: FixedClock
    ) -> None:
        users, sessions = session_repositories
        ada, bob = a_user(clock, "ada@example.com"), a_user(clock, "bob@example.com")
        await users.add(ada)
        await users.add(bob)
        older = a_session(clock, ada, "1" * 64)
        newer = a_session(clock, ada, "2" * 64, last_seen_at=clock.now() + timedelta(minutes=1))
        bobs = a_session(clock, bob, "3" * 64)
        for session in (older, newer, bobs):
            await sessions.add(session)

        assert [s.id for s in await sessions.list_active(ada.id, clock.now())] == [
            newer.id,
            older.id,
        ]
        assert await sessions.get(ada.id, bobs.id) is None
        assert await sessions.get(bob.id, bobs.id) == bobs

    async def test_revoking_all_but_one_counts_what_it_ended(
        self, session_repositories: tuple[UserRepository, SessionRepository], clock: FixedClock
    ) -> None:
        users, sessions = session_repositories
        ada = a_user(clock, "ada@example.com")
        await users.add(ada)
        keep, *others = [a_session(clock, ada, str(n) * 64) for n in range(3)]
        for session in (keep, *others):
            await sessions.add(session)

        assert await sessions.revoke_all(ada.id, clock.now(), keep=keep.id) == 2
        assert [s.id for s in await sessions.list_active(ada.id, clock.now())] == [keep.id]
        assert await sessions.revoke_all(ada.id, clock.now()) == 1
