"""Conformance of the identity repositories.

Provide a fixture ``identity_repositories``: a pair ``(users, workspaces)`` bound to one
open unit of work, and ``clock``.
"""

from __future__ import annotations

from datetime import timedelta

import msgspec
import pytest

from core.identity import (
    ApiKey,
    ApiKeyRepository,
    AuthSession,
    EmailTakenError,
    Invitation,
    InvitationRepository,
    Membership,
    Permission,
    SessionRepository,
    StaffRole,
    Team,
    TeamNameTakenError,
    TeamRepository,
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

    async def test_users_are_searched_by_email_prefix_in_id_order_after_a_cursor(
        self, identity_repositories: Repositories, clock: FixedClock
    ) -> None:
        users, _ = identity_repositories
        added = []
        for email in ("ada@example.com", "bob@example.com", "ada_2@example.com", "adam@x.io"):
            added.append(a_user(clock, email))
            await users.add(added[-1])
            clock.advance(timedelta(seconds=1))
        ada, _bob, ada_2, adam = added

        assert [u.id for u in await users.search("ada")] == [ada.id, ada_2.id, adam.id]
        assert [u.id for u in await users.search("ada_")] == [ada_2.id]  # "_" is no wildcard
        assert [u.id for u in await users.search("ada", after=ada.id, limit=1)] == [ada_2.id]
        assert len(await users.search(limit=None)) == 4
        assert await users.search("zed") == []

    async def test_bans_and_staff_roles_are_set_and_cleared(
        self, identity_repositories: Repositories, clock: FixedClock
    ) -> None:
        users, _ = identity_repositories
        ada, bob = a_user(clock, "ada@example.com"), a_user(clock, "bob@example.com")
        await users.add(ada)
        await users.add(bob)

        await users.set_banned(ada.id, clock.now())
        await users.set_staff_role(bob.id, StaffRole.OPS)

        assert (await users.get(ada.id)).banned_at == clock.now()  # type: ignore[union-attr]
        assert [u.id for u in await users.search(staff_only=True)] == [bob.id]
        assert (await users.get(bob.id)).staff_role is StaffRole.OPS  # type: ignore[union-attr]
        await users.set_banned(ada.id, None)
        await users.set_staff_role(bob.id, None)
        assert not (await users.get(ada.id)).is_banned  # type: ignore[union-attr]
        assert await users.search(staff_only=True) == []


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


InvitationRepositories = tuple[WorkspaceRepository, InvitationRepository]
TeamRepositories = tuple[UserRepository, WorkspaceRepository, TeamRepository]


def an_invitation(
    clock: FixedClock, workspace: Workspace, email: str, token_hash: str, **changes: object
) -> Invitation:
    now = clock.now()
    invitation = Invitation(
        id=ids.new("inv", now),
        workspace_id=workspace.id,
        email=email,
        role=WorkspaceRole.MEMBER,
        token_hash=token_hash,
        invited_by="usr_inviter",
        created_at=now,
        expires_at=now + timedelta(days=7),
    )
    return msgspec.structs.replace(invitation, **changes)


class InvitationRepositoryContract:
    """Provide ``invitation_repositories``: ``(workspaces, invitations)`` on one unit of
    work, and ``clock``."""

    async def test_an_invitation_is_found_by_token_hash_and_within_its_tenant(
        self, invitation_repositories: InvitationRepositories, clock: FixedClock
    ) -> None:
        workspaces, invitations = invitation_repositories
        mine, theirs = a_workspace(clock, "Mine"), a_workspace(clock, "Theirs")
        await workspaces.add(mine)
        await workspaces.add(theirs)
        invitation = an_invitation(clock, mine, "bob@example.com", "a" * 64)
        await invitations.add(invitation)

        assert await invitations.find_by_token_hash("a" * 64) == invitation
        assert await invitations.find_by_token_hash("b" * 64) is None
        assert await invitations.get(TenantContext(mine.id), invitation.id) == invitation
        assert await invitations.get(TenantContext(theirs.id), invitation.id) is None
        assert await invitations.pending(TenantContext(theirs.id), clock.now()) == []
        assert not await invitations.revoke(TenantContext(theirs.id), invitation.id, clock.now())
        assert not await invitations.accept(TenantContext(theirs.id), invitation.id, clock.now())

    async def test_accepted_revoked_and_expired_invitations_are_not_pending(
        self, invitation_repositories: InvitationRepositories, clock: FixedClock
    ) -> None:
        workspaces, invitations = invitation_repositories
        workspace = a_workspace(clock)
        await workspaces.add(workspace)
        tenant, now = TenantContext(workspace.id), clock.now()
        accepted = an_invitation(clock, workspace, "a@example.com", "1" * 64)
        revoked = an_invitation(clock, workspace, "b@example.com", "2" * 64)
        expired = an_invitation(clock, workspace, "c@example.com", "3" * 64, expires_at=now)
        open_ = an_invitation(clock, workspace, "d@example.com", "4" * 64)
        for invitation in (accepted, revoked, expired, open_):
            await invitations.add(invitation)

        assert await invitations.accept(tenant, accepted.id, now)
        assert not await invitations.accept(tenant, accepted.id, now), "single use"
        assert await invitations.revoke(tenant, revoked.id, now)
        assert not await invitations.accept(tenant, revoked.id, now)
        assert not await invitations.accept(tenant, expired.id, now)

        assert [i.id for i in await invitations.pending(tenant, now)] == [open_.id]
        found = await invitations.get(tenant, accepted.id)
        assert found is not None
        assert found.accepted_at == now

    async def test_revoking_for_an_email_ends_only_that_emails_open_invitations(
        self, invitation_repositories: InvitationRepositories, clock: FixedClock
    ) -> None:
        workspaces, invitations = invitation_repositories
        workspace, other = a_workspace(clock), a_workspace(clock, "Other")
        await workspaces.add(workspace)
        await workspaces.add(other)
        bob = an_invitation(clock, workspace, "bob@example.com", "1" * 64)
        carol = an_invitation(clock, workspace, "carol@example.com", "2" * 64)
        bob_elsewhere = an_invitation(clock, other, "bob@example.com", "3" * 64)
        for invitation in (bob, carol, bob_elsewhere):
            await invitations.add(invitation)

        await invitations.revoke_for_email(
            TenantContext(workspace.id), "bob@example.com", clock.now()
        )

        pending = await invitations.pending(TenantContext(workspace.id), clock.now())
        assert [i.id for i in pending] == [carol.id]
        elsewhere = await invitations.pending(TenantContext(other.id), clock.now())
        assert [i.id for i in elsewhere] == [bob_elsewhere.id]


def a_team(clock: FixedClock, workspace: Workspace, name: str) -> Team:
    return Team(
        id=ids.new("team", clock.now()),
        workspace_id=workspace.id,
        name=name,
        created_at=clock.now(),
    )


class TeamRepositoryContract:
    """Provide ``team_repositories``: ``(users, workspaces, teams)`` on one unit of work,
    and ``clock``."""

    async def test_teams_are_listed_by_name_and_names_are_unique_per_workspace(
        self, team_repositories: TeamRepositories, clock: FixedClock
    ) -> None:
        _, workspaces, teams = team_repositories
        mine, theirs = a_workspace(clock, "Mine"), a_workspace(clock, "Theirs")
        await workspaces.add(mine)
        await workspaces.add(theirs)
        tenant = TenantContext(mine.id)
        design, backend = a_team(clock, mine, "Design"), a_team(clock, mine, "Backend")
        await teams.add(tenant, design)
        await teams.add(tenant, backend)
        await teams.add(TenantContext(theirs.id), a_team(clock, theirs, "Design"))

        with pytest.raises(TeamNameTakenError):
            await teams.add(tenant, a_team(clock, mine, "Design"))
        with pytest.raises(TeamNameTakenError):
            await teams.rename(tenant, design.id, "Backend")
        await teams.rename(tenant, design.id, "Product")

        assert [t.name for t in await teams.list_teams(tenant)] == ["Backend", "Product"]
        assert await teams.get(TenantContext(theirs.id), design.id) is None
        with pytest.raises(ValueError, match="tenant"):
            await teams.add(TenantContext(theirs.id), a_team(clock, mine, "Ops"))

    async def test_members_are_added_removed_and_scoped_to_the_tenant(
        self, team_repositories: TeamRepositories, clock: FixedClock
    ) -> None:
        users, workspaces, teams = team_repositories
        ada, bob = a_user(clock, "ada@example.com"), a_user(clock, "bob@example.com")
        await users.add(ada)
        await users.add(bob)
        mine, theirs = a_workspace(clock, "Mine"), a_workspace(clock, "Theirs")
        await workspaces.add(mine)
        await workspaces.add(theirs)
        tenant, other = TenantContext(mine.id), TenantContext(theirs.id)
        one, two = a_team(clock, mine, "One"), a_team(clock, mine, "Two")
        elsewhere = a_team(clock, theirs, "Elsewhere")
        await teams.add(tenant, one)
        await teams.add(tenant, two)
        await teams.add(other, elsewhere)

        for team in (one, two):
            await teams.add_member(tenant, team.id, ada.id)
            await teams.add_member(tenant, team.id, bob.id)
        await teams.add_member(tenant, one.id, bob.id)  # idempotent
        await teams.add_member(other, elsewhere.id, bob.id)
        with pytest.raises(ValueError, match="tenant"):
            await teams.add_member(other, one.id, ada.id)
        await teams.remove_member(other, one.id, ada.id)  # not theirs: nothing happens

        found = await teams.get(tenant, one.id)
        assert found is not None
        assert found.member_ids == sorted([ada.id, bob.id])
        await teams.remove_member(tenant, one.id, ada.id)
        await teams.remove_from_all(tenant, bob.id)

        assert [t.member_ids for t in await teams.list_teams(tenant)] == [[], [ada.id]]
        kept = await teams.get(other, elsewhere.id)
        assert kept is not None
        assert kept.member_ids == [bob.id]

        await teams.delete(other, two.id)  # not theirs: nothing happens
        await teams.delete(tenant, two.id)
        assert [t.id for t in await teams.list_teams(tenant)] == [one.id]


ApiKeyRepositories = tuple[WorkspaceRepository, ApiKeyRepository]


def an_api_key(clock: FixedClock, workspace: Workspace, secret_hash: str) -> ApiKey:
    return ApiKey(
        id=ids.new("key", clock.now()),
        workspace_id=workspace.id,
        name="CI",
        prefix="nf_key_AbC123",
        secret_hash=secret_hash,
        permissions=frozenset({Permission.MEMBERS_READ, Permission.TEAMS_MANAGE}),
        created_by="usr_creator",
        created_at=clock.now(),
        expires_at=clock.now() + timedelta(days=30),
    )


class ApiKeyRepositoryContract:
    """Provide ``api_key_repositories``: ``(workspaces, api_keys)`` on one unit of work,
    and ``clock``."""

    async def test_a_key_is_found_by_secret_hash_and_within_its_tenant(
        self, api_key_repositories: ApiKeyRepositories, clock: FixedClock
    ) -> None:
        workspaces, keys = api_key_repositories
        mine, theirs = a_workspace(clock, "Mine"), a_workspace(clock, "Theirs")
        await workspaces.add(mine)
        await workspaces.add(theirs)
        key = an_api_key(clock, mine, "a" * 64)
        await keys.add(key)

        assert await keys.find_by_secret_hash("a" * 64) == key
        assert await keys.find_by_secret_hash("b" * 64) is None
        assert await keys.get(TenantContext(mine.id), key.id) == key
        assert await keys.get(TenantContext(theirs.id), key.id) is None
        assert await keys.list_keys(TenantContext(mine.id)) == [key]
        assert await keys.list_keys(TenantContext(theirs.id)) == []
        assert not await keys.revoke(TenantContext(theirs.id), key.id, clock.now())

    async def test_a_key_is_revoked_once_and_its_use_is_recorded(
        self, api_key_repositories: ApiKeyRepositories, clock: FixedClock
    ) -> None:
        workspaces, keys = api_key_repositories
        workspace = a_workspace(clock)
        await workspaces.add(workspace)
        tenant = TenantContext(workspace.id)
        first = an_api_key(clock, workspace, "1" * 64)
        clock.advance(timedelta(seconds=1))
        second = an_api_key(clock, workspace, "2" * 64)
        await keys.add(second)
        await keys.add(first)

        clock.advance(timedelta(minutes=1))
        await keys.touch(first.id, clock.now())
        assert await keys.revoke(tenant, second.id, clock.now())
        assert not await keys.revoke(tenant, second.id, clock.now()), "once"

        listed = await keys.list_keys(tenant)
        assert [k.id for k in listed] == [first.id, second.id], "oldest first"
        assert listed[0].last_used_at == clock.now()
        assert listed[0].revoked_at is None
        assert listed[1].revoked_at == clock.now()
        found = await keys.find_by_secret_hash("2" * 64)
        assert found is not None
        assert found.revoked_at == clock.now()
