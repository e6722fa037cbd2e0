"""Invitations and teams on memory fakes: the rules, without HTTP or SQL."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from adapters.memory.identity import (
    FastInsecurePasswordHasher,
    InMemoryInvitationRepository,
    InMemoryTeamRepository,
    InMemoryUserRepository,
    InMemoryWorkspaceRepository,
)
from adapters.memory.notifier import InMemoryNotifier
from adapters.memory.password_policy import ListPasswordPolicy
from adapters.memory.ratelimit import InMemoryRateLimiter
from adapters.memory.uow import InMemoryOutbox, InMemoryUnitOfWork
from core.identity import (
    AlreadyMemberError,
    AuthSession,
    IdentityThrottle,
    InvalidTokenError,
    InvitationEmailMismatchError,
    InvitationNotFoundError,
    InvitationService,
    MemberNotFoundError,
    Membership,
    Principal,
    TeamNotFoundError,
    TeamService,
    UnauthenticatedError,
    User,
    Workspace,
    WorkspaceAccess,
    WorkspaceRole,
    WorkspaceService,
)
from core.kernel import FixedClock, IdGenerator, PermissionDeniedError, TenantContext

LINK = re.compile(r"https://app\.example\.com/invitations/(nf_inv_\S+)")


class World:
    def __init__(self) -> None:
        self.clock = FixedClock()
        self.ids = IdGenerator()
        self.users = InMemoryUserRepository()
        self.workspaces = InMemoryWorkspaceRepository()
        self.invitation_store = InMemoryInvitationRepository()
        self.team_store = InMemoryTeamRepository()
        self.outbox = InMemoryOutbox()
        self.uow = InMemoryUnitOfWork(self.outbox, self.clock, self.ids)
        self.notifier = InMemoryNotifier()
        self.invitations = InvitationService(
            uow=self.uow,
            invitations=self.invitation_store,
            workspaces=self.workspaces,
            users=self.users,
            hasher=FastInsecurePasswordHasher(),
            policy=ListPasswordPolicy(),
            notifier=self.notifier,
            clock=self.clock,
            ids=self.ids,
            public_url="https://app.example.com/",
            throttle=IdentityThrottle(InMemoryRateLimiter(self.clock)),
        )
        self.teams = TeamService(
            teams=self.team_store, workspaces=self.workspaces, clock=self.clock, ids=self.ids
        )
        self.workspace_service = WorkspaceService(
            uow=self.uow, workspaces=self.workspaces, clock=self.clock, teams=self.team_store
        )
        self.workspace = Workspace(id="ws_1", name="Acme", created_at=self.clock.now())

    async def setup(self) -> None:
        await self.workspaces.add(self.workspace)

    async def user(self, name: str, role: WorkspaceRole | None = None) -> User:
        user = User(
            id=f"usr_{name}",
            email=f"{name}@example.com",
            name=name.title(),
            password_hash="x",
            created_at=self.clock.now(),
        )
        await self.users.add(user)
        if role is not None:
            await self.workspaces.add_member(
                TenantContext(self.workspace.id),
                Membership(
                    workspace_id=self.workspace.id,
                    user_id=user.id,
                    role=role,
                    created_at=self.clock.now(),
                ),
            )
        return user

    async def access(self, user: User) -> WorkspaceAccess:
        return await self.workspace_service.access(user.id, self.workspace.id)

    def principal(self, user: User) -> Principal:
        now = self.clock.now()
        session = AuthSession(
            id="ses_1",
            user_id=user.id,
            token_hash="h",
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(days=1),
            idle_expires_at=now + timedelta(days=1),
        )
        return Principal(user=user, session=session)

    def token_sent_to(self, address: str) -> str:
        match = LINK.search(self.notifier.sent_to(address)[-1].data["link"])
        assert match
        return match.group(1)

    async def event_names(self) -> list[str]:
        await self.uow.commit()
        return [m.name for m in self.outbox.messages.values()]


@pytest.fixture
async def world() -> World:
    w = World()
    await w.setup()
    return w


async def test_an_invitation_emails_a_link_and_accepting_it_joins_once(world: World) -> None:
    ada = await world.user("ada", WorkspaceRole.OWNER)
    bob = await world.user("bob")

    invitation = await world.invitations.invite(
        await world.access(ada), "Bob@Example.com", WorkspaceRole.ADMIN
    )
    (email,) = world.notifier.sent_to("bob@example.com")
    token = world.token_sent_to("bob@example.com")
    workspace, membership = await world.invitations.accept(token, world.principal(bob))

    assert email.type == "workspace.invitation"
    assert email.idempotency_key == invitation.id
    assert email.data["workspace_name"] == "Acme"
    assert invitation.expires_at - invitation.created_at == timedelta(days=7)
    assert (workspace.id, membership.role) == (world.workspace.id, WorkspaceRole.ADMIN)
    assert bob.email_verified_at is not None, "the link proves the email"
    assert "identity.member_added" in await world.event_names()
    with pytest.raises(InvalidTokenError):
        await world.invitations.accept(token, world.principal(bob))


async def test_accepting_by_signing_up_creates_a_verified_account(world: World) -> None:
    ada = await world.user("ada", WorkspaceRole.OWNER)
    await world.invitations.invite(
        await world.access(ada), "carol@example.com", WorkspaceRole.MEMBER
    )
    token = world.token_sent_to("carol@example.com")

    user, _, membership = await world.invitations.sign_up_and_accept(
        token, "violet-kestrel-harbour-47", "Carol"
    )

    assert user.email == "carol@example.com"
    assert user.email_verified_at is not None
    assert membership.role == WorkspaceRole.MEMBER
    names = await world.event_names()
    assert {"identity.user_registered", "identity.member_added"} <= set(names)


async def test_an_existing_account_cannot_sign_up_through_an_invitation(world: World) -> None:
    ada = await world.user("ada", WorkspaceRole.OWNER)
    await world.user("bob")
    await world.invitations.invite(await world.access(ada), "bob@example.com", WorkspaceRole.MEMBER)
    token = world.token_sent_to("bob@example.com")

    with pytest.raises(UnauthenticatedError, match="sign in"):
        await world.invitations.sign_up_and_accept(token, "violet-kestrel-harbour-47")


async def test_the_rules_of_inviting(world: World) -> None:
    ada = await world.user("ada", WorkspaceRole.OWNER)
    bob = await world.user("bob", WorkspaceRole.ADMIN)
    carol = await world.user("carol", WorkspaceRole.MEMBER)
    dan = await world.user("dan")

    with pytest.raises(PermissionDeniedError):
        await world.invitations.invite(
            await world.access(carol), "x@example.com", WorkspaceRole.MEMBER
        )
    with pytest.raises(PermissionDeniedError):
        await world.invitations.invite(
            await world.access(bob), "x@example.com", WorkspaceRole.OWNER
        )
    with pytest.raises(AlreadyMemberError):
        await world.invitations.invite(await world.access(ada), carol.email, WorkspaceRole.ADMIN)

    first = await world.invitations.invite(await world.access(bob), dan.email, WorkspaceRole.MEMBER)
    second = await world.invitations.invite(await world.access(ada), dan.email, WorkspaceRole.OWNER)
    pending = await world.invitations.pending(await world.access(ada))
    assert [i.id for i in pending] == [second.id]
    assert first.id != second.id

    with pytest.raises(InvitationEmailMismatchError):
        await world.invitations.accept(world.token_sent_to(dan.email), world.principal(carol))
    await world.invitations.revoke(await world.access(ada), second.id)
    with pytest.raises(InvitationNotFoundError):
        await world.invitations.revoke(await world.access(ada), second.id)
    with pytest.raises(InvalidTokenError):
        await world.invitations.accept(world.token_sent_to(dan.email), world.principal(dan))


async def test_an_invitation_expires(world: World) -> None:
    ada = await world.user("ada", WorkspaceRole.OWNER)
    bob = await world.user("bob")
    await world.invitations.invite(await world.access(ada), bob.email, WorkspaceRole.MEMBER)

    world.clock.advance(timedelta(days=7))

    with pytest.raises(InvalidTokenError):
        await world.invitations.accept(world.token_sent_to(bob.email), world.principal(bob))
    assert await world.invitations.pending(await world.access(ada)) == []


async def test_teams_hold_only_workspace_members_and_lose_those_who_leave(world: World) -> None:
    ada = await world.user("ada", WorkspaceRole.OWNER)
    bob = await world.user("bob", WorkspaceRole.MEMBER)
    stranger = await world.user("stranger")
    owner = await world.access(ada)
    team = await world.teams.create(owner, " Design ")

    with pytest.raises(PermissionDeniedError):
        await world.teams.create(await world.access(bob), "Mine")
    with pytest.raises(MemberNotFoundError):
        await world.teams.add_member(owner, team.id, stranger.id)
    with pytest.raises(TeamNotFoundError):
        await world.teams.add_member(owner, "team_unknown", bob.id)
    added = await world.teams.add_member(owner, team.id, bob.id)
    assert added.name == "Design"
    assert added.member_ids == [bob.id]
    assert [t.name for t in await world.teams.list_teams(await world.access(bob))] == ["Design"]

    await world.workspace_service.remove_member(await world.access(bob), bob.id)

    assert (await world.teams.get(owner, team.id)).member_ids == []
