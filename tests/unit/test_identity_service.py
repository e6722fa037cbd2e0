"""Identity use cases on in-memory fakes."""

import pytest

from adapters.memory.identity import (
    FastInsecurePasswordHasher,
    InMemoryUserRepository,
    InMemoryWorkspaceRepository,
)
from adapters.memory.uow import InMemoryOutbox, InMemoryUnitOfWork
from core.identity import (
    EmailTakenError,
    IdentityService,
    InvalidEmailError,
    InvalidPasswordError,
    StaffRole,
    WorkspaceRole,
)
from core.kernel import FixedClock, IdGenerator, NotFoundError, TenantContext, ValidationError


class World:
    def __init__(self) -> None:
        self.clock = FixedClock()
        self.outbox = InMemoryOutbox()
        self.users = InMemoryUserRepository()
        self.workspaces = InMemoryWorkspaceRepository()
        self.uow = InMemoryUnitOfWork(self.outbox, self.clock, IdGenerator())
        self.service = IdentityService(
            uow=self.uow,
            users=self.users,
            workspaces=self.workspaces,
            hasher=FastInsecurePasswordHasher(),
            clock=self.clock,
            ids=IdGenerator(),
        )

    async def published(self) -> list[str]:
        await self.uow.commit()
        return [m.name for m in sorted(self.outbox.messages.values(), key=lambda m: m.id)]


@pytest.fixture
def world() -> World:
    return World()


async def test_registering_normalizes_the_email_and_hashes_the_password(world: World) -> None:
    user = await world.service.register_user("  Ada@Example.COM ", "Ada", "correct horse")

    assert user.email == "ada@example.com"
    assert user.id.startswith("usr_")
    assert user.password_hash != "correct horse"
    assert await world.published() == ["identity.user_registered"]


async def test_an_email_is_taken_whatever_its_case(world: World) -> None:
    await world.service.register_user("ada@example.com", "Ada", "correct horse")

    with pytest.raises(EmailTakenError):
        await world.service.register_user("ADA@example.com", "Ada 2", "battery staple")


@pytest.mark.parametrize(
    "email", ["", "ada", "ada@", "@example.com", "a b@example.com", "ada@host"]
)
async def test_a_malformed_email_is_refused(world: World, email: str) -> None:
    with pytest.raises(InvalidEmailError):
        await world.service.register_user(email, "Ada", "correct horse")


@pytest.mark.parametrize("password", ["short", "x" * 257])
async def test_passwords_outside_8_to_256_characters_are_refused(
    world: World, password: str
) -> None:
    with pytest.raises(InvalidPasswordError) as caught:
        await world.service.register_user("ada@example.com", "Ada", password)
    assert caught.value.extra == {"field": "password"}
    assert await world.users.count() == 0


async def test_staff_are_users_with_a_platform_role(world: World) -> None:
    staff = await world.service.register_user(
        "ops@example.com", "Ops", "correct horse", staff_role=StaffRole.OPS
    )

    assert staff.staff_role is StaffRole.OPS


async def test_creating_a_workspace_makes_its_creator_the_owner(world: World) -> None:
    ada = await world.service.register_user("ada@example.com", "Ada", "correct horse")

    workspace = await world.service.create_workspace(ada.id, "  Acme  ")

    assert workspace.name == "Acme"
    members = await world.workspaces.members(TenantContext(workspace.id))
    assert [(m.user_id, m.role) for m in members] == [(ada.id, WorkspaceRole.OWNER)]
    assert await world.published() == [
        "identity.user_registered",
        "identity.workspace_created",
        "identity.member_added",
    ]


async def test_a_workspace_needs_an_existing_owner(world: World) -> None:
    with pytest.raises(NotFoundError, match="owner"):
        await world.service.create_workspace("usr_nobody", "Acme")
    assert world.workspaces.workspaces == {}


async def test_a_workspace_needs_a_name(world: World) -> None:
    with pytest.raises(ValidationError, match="1 to 100"):
        await world.service.create_workspace("usr_x", "   ")
