"""Conformance of the identity repositories.

Provide a fixture ``identity_repositories``: a pair ``(users, workspaces)`` bound to one
open unit of work, and ``clock``.
"""

from __future__ import annotations

import pytest

from core.identity import (
    EmailTakenError,
    Membership,
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
