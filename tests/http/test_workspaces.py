"""Workspaces and members over HTTP: roles, permissions, the last owner, deletion."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from adapters.sql.identity.tables import workspaces
from core.identity import WorkspaceRole
from core.kernel import FixedClock
from entrypoints.containers import ApplicationContainer
from entrypoints.testing.people import Person, join, person, workspace_of

BASE = "https://ninefold.dev/problems/"


@pytest.fixture
async def ada(client: httpx.AsyncClient, container: ApplicationContainer) -> Person:
    return await person(client, container, "ada")


@pytest.fixture
async def bob(client: httpx.AsyncClient, container: ApplicationContainer) -> Person:
    return await person(client, container, "bob")


async def test_the_creator_of_a_workspace_is_its_owner(
    client: httpx.AsyncClient, ada: Person
) -> None:
    response = await client.post("/api/v1/workspaces", json={"name": " Acme "}, headers=ada.headers)

    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "Acme"
    assert body["role"] == "owner"
    assert "workspace:delete" in body["permissions"]
    listed = await client.get("/api/v1/workspaces", headers=ada.headers)
    assert [w["id"] for w in listed.json()] == [body["id"]]


async def test_a_user_belongs_to_many_workspaces(client: httpx.AsyncClient, ada: Person) -> None:
    first = await workspace_of(client, ada, "First")
    second = await workspace_of(client, ada, "Second")

    listed = await client.get("/api/v1/workspaces", headers=ada.headers)

    assert [w["id"] for w in listed.json()] == [first, second]


async def test_a_member_may_read_but_not_rename(
    client: httpx.AsyncClient, container: ApplicationContainer, ada: Person, bob: Person
) -> None:
    workspace = await workspace_of(client, ada)
    await join(container, workspace, bob, WorkspaceRole.MEMBER)

    read = await client.get(f"/api/v1/workspaces/{workspace}", headers=bob.headers)
    rename = await client.patch(
        f"/api/v1/workspaces/{workspace}", json={"name": "Mine"}, headers=bob.headers
    )

    assert read.status_code == 200
    assert read.json()["role"] == "member"
    assert rename.status_code == 403
    assert rename.json()["type"] == BASE + "permission-denied"
    assert rename.json()["permission"] == "workspace:update"


async def test_an_admin_renames_but_only_an_owner_deletes(
    client: httpx.AsyncClient, container: ApplicationContainer, ada: Person, bob: Person
) -> None:
    workspace = await workspace_of(client, ada)
    await join(container, workspace, bob, WorkspaceRole.ADMIN)

    renamed = await client.patch(
        f"/api/v1/workspaces/{workspace}", json={"name": "Acme 2"}, headers=bob.headers
    )
    refused = await client.delete(f"/api/v1/workspaces/{workspace}", headers=bob.headers)
    deleted = await client.delete(f"/api/v1/workspaces/{workspace}", headers=ada.headers)

    assert renamed.json()["name"] == "Acme 2"
    assert refused.status_code == 403
    assert deleted.status_code == 200
    assert deleted.json()["purge_after"] > deleted.json()["deleted_at"]
    gone = await client.get(f"/api/v1/workspaces/{workspace}", headers=ada.headers)
    assert gone.status_code == 404
    assert (await client.get("/api/v1/workspaces", headers=ada.headers)).json() == []


async def test_the_last_owner_can_neither_leave_nor_be_demoted(
    client: httpx.AsyncClient, container: ApplicationContainer, ada: Person, bob: Person
) -> None:
    workspace = await workspace_of(client, ada)

    leave = await client.delete(
        f"/api/v1/workspaces/{workspace}/members/{ada.user_id}", headers=ada.headers
    )
    demote = await client.patch(
        f"/api/v1/workspaces/{workspace}/members/{ada.user_id}",
        json={"role": "admin"},
        headers=ada.headers,
    )

    assert leave.status_code == demote.status_code == 409
    assert leave.json()["type"] == BASE + "identity/last-owner"

    await join(container, workspace, bob, WorkspaceRole.MEMBER)
    promoted = await client.patch(
        f"/api/v1/workspaces/{workspace}/members/{bob.user_id}",
        json={"role": "owner"},
        headers=ada.headers,
    )
    assert promoted.json()["role"] == "owner"
    left = await client.delete(
        f"/api/v1/workspaces/{workspace}/members/{ada.user_id}", headers=ada.headers
    )
    assert left.status_code == 204


async def test_only_an_owner_makes_an_owner(
    client: httpx.AsyncClient, container: ApplicationContainer, ada: Person, bob: Person
) -> None:
    carol = await person(client, container, "carol")
    workspace = await workspace_of(client, ada)
    await join(container, workspace, bob, WorkspaceRole.ADMIN)
    await join(container, workspace, carol, WorkspaceRole.MEMBER)

    response = await client.patch(
        f"/api/v1/workspaces/{workspace}/members/{carol.user_id}",
        json={"role": "owner"},
        headers=bob.headers,
    )

    assert response.status_code == 403


async def test_any_member_may_leave_and_members_are_listed(
    client: httpx.AsyncClient, container: ApplicationContainer, ada: Person, bob: Person
) -> None:
    workspace = await workspace_of(client, ada)
    await join(container, workspace, bob, WorkspaceRole.VIEWER)

    members = await client.get(f"/api/v1/workspaces/{workspace}/members", headers=bob.headers)
    left = await client.delete(
        f"/api/v1/workspaces/{workspace}/members/{bob.user_id}", headers=bob.headers
    )

    assert {(m["user_id"], m["role"]) for m in members.json()} == {
        (ada.user_id, "owner"),
        (bob.user_id, "viewer"),
    }
    assert left.status_code == 204
    assert (
        await client.get(f"/api/v1/workspaces/{workspace}", headers=bob.headers)
    ).status_code == 404


async def test_membership_changes_are_published_for_seat_counting(
    client: httpx.AsyncClient, container: ApplicationContainer, ada: Person, bob: Person
) -> None:
    workspace = await workspace_of(client, ada)
    await join(container, workspace, bob, WorkspaceRole.MEMBER)
    await client.patch(
        f"/api/v1/workspaces/{workspace}/members/{bob.user_id}",
        json={"role": "billing"},
        headers=ada.headers,
    )
    await client.delete(
        f"/api/v1/workspaces/{workspace}/members/{bob.user_id}", headers=ada.headers
    )

    async with container.unit_of_work() as uow:
        names = [
            m.name
            for m in await uow.outbox.claim(
                100, container.kernel.clock().now(), container.kernel.clock().now()
            )
        ]

    assert names[-2:] == ["identity.member_role_changed", "identity.member_removed"]


async def test_workspaces_need_a_signed_in_user(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/workspaces")

    assert response.status_code == 401


async def test_a_deleted_workspace_is_purged_once_its_grace_period_has_passed(
    client: httpx.AsyncClient, container: ApplicationContainer, clock: FixedClock, ada: Person
) -> None:
    kept = await workspace_of(client, ada, "Kept")
    doomed = await workspace_of(client, ada, "Doomed")
    await client.delete(f"/api/v1/workspaces/{doomed}", headers=ada.headers)

    async def purge() -> int:
        async with container.unit_of_work() as uow:
            purged = await container.identity.workspaces(uow=uow).purge_due()
            await uow.commit()
        return purged

    assert await purge() == 0, "not during the grace period"
    clock.advance(timedelta(days=30, seconds=1))
    assert await purge() == 1
    async with container.unit_of_work() as uow:
        rows = (await uow.session.execute(select(workspaces.c.id))).scalars().all()
        published = [m.name for m in await uow.outbox.claim(100, clock.now(), clock.now())]
    assert rows == [kept]
    assert published[-1] == "identity.workspace_purged"
