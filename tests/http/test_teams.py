"""Teams over HTTP: create, rename, delete, members, permissions and tenant scoping."""

from __future__ import annotations

import httpx
import pytest

from core.identity import WorkspaceRole
from entrypoints.containers import ApplicationContainer
from entrypoints.testing.people import Person, join, person, workspace_of

BASE = "https://ninefold.dev/problems/"


@pytest.fixture
async def ada(client: httpx.AsyncClient, container: ApplicationContainer) -> Person:
    return await person(client, container, "ada")


@pytest.fixture
async def bob(client: httpx.AsyncClient, container: ApplicationContainer) -> Person:
    return await person(client, container, "bob")


async def new_team(client: httpx.AsyncClient, who: Person, workspace: str, name: str) -> str:
    response = await client.post(
        f"/api/v1/workspaces/{workspace}/teams", json={"name": name}, headers=who.headers
    )
    assert response.status_code == 201, response.text
    team_id: str = response.json()["id"]
    return team_id


async def test_an_owner_creates_renames_and_deletes_teams(
    client: httpx.AsyncClient, ada: Person
) -> None:
    workspace = await workspace_of(client, ada)
    teams = f"/api/v1/workspaces/{workspace}/teams"
    design = await new_team(client, ada, workspace, " Design ")
    await new_team(client, ada, workspace, "Backend")

    duplicate = await client.post(teams, json={"name": "Design"}, headers=ada.headers)
    renamed = await client.patch(
        f"{teams}/{design}", json={"name": "Product design"}, headers=ada.headers
    )
    clash = await client.patch(f"{teams}/{design}", json={"name": "Backend"}, headers=ada.headers)
    listed = await client.get(teams, headers=ada.headers)

    assert duplicate.status_code == 409
    assert duplicate.json()["type"] == BASE + "identity/team-name-taken"
    assert renamed.json()["name"] == "Product design"
    assert clash.status_code == 409
    assert [t["name"] for t in listed.json()] == ["Backend", "Product design"]
    assert design.startswith("team_")

    deleted = await client.delete(f"{teams}/{design}", headers=ada.headers)
    gone = await client.get(f"{teams}/{design}", headers=ada.headers)
    assert deleted.status_code == 204
    assert gone.status_code == 404
    assert gone.json()["type"] == BASE + "identity/team-not-found"


async def test_members_join_and_leave_teams(
    client: httpx.AsyncClient, container: ApplicationContainer, ada: Person, bob: Person
) -> None:
    workspace = await workspace_of(client, ada)
    await join(container, workspace, bob, WorkspaceRole.MEMBER)
    stranger = await person(client, container, "carol")
    team = await new_team(client, ada, workspace, "Design")
    path = f"/api/v1/workspaces/{workspace}/teams/{team}/members"

    added = await client.put(f"{path}/{bob.user_id}", headers=ada.headers)
    twice = await client.put(f"{path}/{bob.user_id}", headers=ada.headers)
    not_a_member = await client.put(f"{path}/{stranger.user_id}", headers=ada.headers)
    by_member = await client.put(f"{path}/{ada.user_id}", headers=bob.headers)
    read_by_member = await client.get(
        f"/api/v1/workspaces/{workspace}/teams/{team}", headers=bob.headers
    )

    assert added.status_code == 200, added.text
    assert added.json()["member_ids"] == [bob.user_id]
    assert twice.json()["member_ids"] == [bob.user_id]
    assert not_a_member.status_code == 404
    assert not_a_member.json()["type"] == BASE + "identity/member-not-found"
    assert by_member.status_code == 403
    assert by_member.json()["permission"] == "teams:manage"
    assert read_by_member.json()["member_ids"] == [bob.user_id]

    removed = await client.delete(f"{path}/{bob.user_id}", headers=ada.headers)
    again = await client.delete(f"{path}/{bob.user_id}", headers=ada.headers)
    assert removed.status_code == 204
    assert again.status_code == 404


async def test_leaving_the_workspace_leaves_its_teams(
    client: httpx.AsyncClient, container: ApplicationContainer, ada: Person, bob: Person
) -> None:
    workspace = await workspace_of(client, ada)
    await join(container, workspace, bob, WorkspaceRole.MEMBER)
    team = await new_team(client, ada, workspace, "Design")
    await client.put(
        f"/api/v1/workspaces/{workspace}/teams/{team}/members/{bob.user_id}", headers=ada.headers
    )

    left = await client.delete(
        f"/api/v1/workspaces/{workspace}/members/{bob.user_id}", headers=bob.headers
    )

    assert left.status_code == 204
    read = await client.get(f"/api/v1/workspaces/{workspace}/teams/{team}", headers=ada.headers)
    assert read.json()["member_ids"] == []


async def test_another_workspaces_team_is_not_found(
    client: httpx.AsyncClient, ada: Person, bob: Person
) -> None:
    adas = await workspace_of(client, ada)
    bobs = await workspace_of(client, bob)
    bobs_team = await new_team(client, bob, bobs, "Secret")
    path = f"/api/v1/workspaces/{adas}/teams/{bobs_team}"

    responses = [
        await client.get(path, headers=ada.headers),
        await client.patch(path, json={"name": "Mine"}, headers=ada.headers),
        await client.put(f"{path}/members/{ada.user_id}", headers=ada.headers),
        await client.delete(f"{path}/members/{bob.user_id}", headers=ada.headers),
        await client.delete(path, headers=ada.headers),
    ]

    assert [r.status_code for r in responses] == [404] * 5
    still = await client.get(f"/api/v1/workspaces/{bobs}/teams/{bobs_team}", headers=bob.headers)
    assert still.json()["name"] == "Secret"
