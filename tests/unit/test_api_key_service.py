"""Workspace API keys on memory fakes: the rules, without HTTP or SQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.memory.identity import InMemoryApiKeyRepository, InMemoryWorkspaceRepository
from core.identity import (
    ApiKeyNotFoundError,
    ApiKeyService,
    Membership,
    Permission,
    Workspace,
    WorkspaceAccess,
    WorkspaceNotFoundError,
    WorkspaceRole,
    api_key_access,
    hash_token,
)
from core.kernel import FixedClock, IdGenerator, PermissionDeniedError, ValidationError


class World:
    def __init__(self) -> None:
        self.clock = FixedClock()
        self.store = InMemoryApiKeyRepository()
        self.workspaces = InMemoryWorkspaceRepository()
        self.keys = ApiKeyService(keys=self.store, clock=self.clock, ids=IdGenerator())
        self.workspace = Workspace(id="ws_acme", name="Acme", created_at=self.clock.now())

    def access(self, role: WorkspaceRole = WorkspaceRole.ADMIN) -> WorkspaceAccess:
        membership = Membership(
            workspace_id=self.workspace.id,
            user_id="usr_ada",
            role=role,
            created_at=self.clock.now(),
        )
        return WorkspaceAccess(self.workspace, membership)


@pytest.fixture
def world() -> World:
    return World()


async def test_the_secret_is_shown_once_and_only_its_hash_is_kept(world: World) -> None:
    created = await world.keys.create(world.access(), " CI ", [Permission.MEMBERS_READ])

    assert created.secret.startswith("nf_key_")
    assert created.key.name == "CI"
    assert created.key.prefix == created.secret[:13]
    assert created.key.prefix.startswith("nf_key_")
    assert created.key.secret_hash == hash_token(created.secret)
    stored = world.store.keys[created.key.id]
    assert created.secret not in repr(stored)
    listed = await world.keys.list_keys(world.access())
    assert [k.id for k in listed] == [created.key.id]
    assert all(created.secret not in repr(k) for k in listed)

    principal = await world.keys.authenticate(created.secret)
    assert principal is not None
    assert principal.key.id == created.key.id
    assert principal.key.permissions == frozenset({Permission.MEMBERS_READ})
    assert await world.keys.authenticate(created.secret + "x") is None
    assert await world.keys.authenticate("nf_sess_whatever") is None


async def test_managing_keys_needs_the_permission(world: World) -> None:
    with pytest.raises(PermissionDeniedError):
        await world.keys.create(world.access(WorkspaceRole.MEMBER), "CI", [Permission.MEMBERS_READ])
    with pytest.raises(PermissionDeniedError):
        await world.keys.list_keys(world.access(WorkspaceRole.VIEWER))


async def test_a_key_cannot_have_more_than_its_creator(world: World) -> None:
    with pytest.raises(PermissionDeniedError) as raised:
        await world.keys.create(
            world.access(WorkspaceRole.ADMIN), "CI", [Permission.WORKSPACE_DELETE]
        )
    assert "workspace:delete" in str(raised.value)
    with pytest.raises(ValidationError):
        await world.keys.create(world.access(), "CI", [])
    with pytest.raises(ValidationError):
        await world.keys.create(world.access(), "CI", ["nope:nope"])
    with pytest.raises(ValidationError):
        await world.keys.create(world.access(), "  ", [Permission.MEMBERS_READ])
    assert world.store.keys == {}


async def test_an_expired_key_no_longer_authenticates(world: World) -> None:
    with pytest.raises(ValidationError):
        await world.keys.create(
            world.access(), "CI", [Permission.MEMBERS_READ], expires_at=world.clock.now()
        )
    created = await world.keys.create(
        world.access(),
        "CI",
        [Permission.MEMBERS_READ],
        expires_at=world.clock.now() + timedelta(days=1),
    )

    assert await world.keys.authenticate(created.secret) is not None
    world.clock.advance(timedelta(days=1))
    assert await world.keys.authenticate(created.secret) is None


async def test_a_revoked_key_no_longer_authenticates(world: World) -> None:
    created = await world.keys.create(world.access(), "CI", [Permission.MEMBERS_READ])

    await world.keys.revoke(world.access(), created.key.id)

    assert await world.keys.authenticate(created.secret) is None
    with pytest.raises(ApiKeyNotFoundError):
        await world.keys.revoke(world.access(), created.key.id)
    with pytest.raises(ApiKeyNotFoundError):
        await world.keys.revoke(world.access(), "key_unknown")
    listed = await world.keys.list_keys(world.access())
    assert listed[0].revoked_at == world.clock.now()


async def test_use_is_recorded_at_most_every_five_minutes(world: World) -> None:
    created = await world.keys.create(world.access(), "CI", [Permission.MEMBERS_READ])

    async def use() -> None:
        principal = await world.keys.authenticate(created.secret)
        assert principal is not None
        if world.keys.needs_touch(principal):
            await world.keys.touch(principal)

    await use()
    first = world.clock.now()
    world.clock.advance(timedelta(minutes=4))
    await use()
    assert world.store.touches == 1
    assert world.store.keys[created.key.id].last_used_at == first
    world.clock.advance(timedelta(minutes=1))
    await use()
    assert world.store.touches == 2
    assert world.store.keys[created.key.id].last_used_at == world.clock.now()


async def test_a_key_acts_in_its_own_workspace_with_its_own_permissions(world: World) -> None:
    await world.workspaces.add(world.workspace)
    created = await world.keys.create(world.access(), "CI", [Permission.MEMBERS_READ])
    principal = await world.keys.authenticate(created.secret)
    assert principal is not None

    access = await api_key_access(
        world.workspaces, principal, world.workspace.id, Permission.MEMBERS_READ
    )
    assert access.via_api_key
    assert access.tenant.actor_id == created.key.id
    access.require(Permission.MEMBERS_READ)
    with pytest.raises(PermissionDeniedError):
        access.require(Permission.WORKSPACE_UPDATE)
    with pytest.raises(PermissionDeniedError):
        await api_key_access(
            world.workspaces, principal, world.workspace.id, Permission.TEAMS_MANAGE
        )
    with pytest.raises(PermissionDeniedError):
        await api_key_access(world.workspaces, principal, world.workspace.id, None)
    with pytest.raises(WorkspaceNotFoundError):
        await api_key_access(world.workspaces, principal, "ws_other", Permission.MEMBERS_READ)
