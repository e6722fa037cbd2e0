"""Signed-in people for HTTP tests: users with bearer tokens, their workspaces, and
memberships. Part of the testing harness: a fork's tests use them as ninefold's do."""

from __future__ import annotations

import httpx

from adapters.sql.identity.repositories import SqlWorkspaceRepository
from core.identity import Membership, StaffRole, WorkspaceRole
from core.kernel import TenantContext
from entrypoints.containers import ApplicationContainer

PASSWORD = "violet-kestrel-harbour-47"


class Person:
    def __init__(self, user_id: str, email: str, token: str) -> None:
        self.user_id = user_id
        self.email = email
        self.headers = {"Authorization": f"Bearer {token}"}


async def person(client: httpx.AsyncClient, container: ApplicationContainer, name: str) -> Person:
    """A registered user, signed in with a bearer token."""
    email = f"{name}@example.com"
    async with container.unit_of_work() as uow:
        user = await container.identity.service(uow=uow).register_user(email, name, PASSWORD)
        await uow.commit()
    response = await client.post(
        "/api/v1/auth/sign-in", json={"email": email, "password": PASSWORD, "transport": "bearer"}
    )
    assert response.status_code == 200, response.text
    return Person(user.id, email, response.json()["token"])


async def workspace_of(client: httpx.AsyncClient, owner: Person, name: str = "Acme") -> str:
    response = await client.post("/api/v1/workspaces", json={"name": name}, headers=owner.headers)
    assert response.status_code == 201, response.text
    workspace_id: str = response.json()["id"]
    return workspace_id


async def join(
    container: ApplicationContainer, workspace_id: str, who: Person, role: WorkspaceRole
) -> None:
    """Make ``who`` a member directly (invitations are another route's business)."""
    async with container.unit_of_work() as uow:
        await SqlWorkspaceRepository(uow.session).add_member(
            TenantContext(workspace_id),
            Membership(
                workspace_id=workspace_id,
                user_id=who.user_id,
                role=role,
                created_at=container.kernel.clock().now(),
            ),
        )
        await uow.commit()


async def staff_member(
    client: httpx.AsyncClient, container: ApplicationContainer, name: str, role: StaffRole
) -> Person:
    """A registered, signed-in user with the staff ``role``."""
    who = await person(client, container, name)
    async with container.unit_of_work() as uow:
        await container.identity.staff(uow=uow).set_staff_role(who.email, role)
        await uow.commit()
    return who
