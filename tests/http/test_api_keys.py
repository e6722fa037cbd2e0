"""Workspace API keys over HTTP: created by those who may, shown once, acting for their
workspace only and with their own permissions, never as a user."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from core.identity import WorkspaceRole
from core.kernel import FixedClock
from entrypoints.containers import ApplicationContainer
from entrypoints.testing.people import Person, join, person, workspace_of


@pytest.fixture
async def ada(client: httpx.AsyncClient, container: ApplicationContainer) -> Person:
    return await person(client, container, "ada")


@pytest.fixture
async def bob(client: httpx.AsyncClient, container: ApplicationContainer) -> Person:
    return await person(client, container, "bob")


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def new_key(
    client: httpx.AsyncClient, owner: Person, workspace: str, *permissions: str, **extra: str
) -> dict[str, object]:
    response = await client.post(
        f"/api/v1/workspaces/{workspace}/api-keys",
        json={"name": "CI", "permissions": list(permissions), **extra},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


async def test_an_owner_creates_a_key_whose_secret_is_shown_once(
    client: httpx.AsyncClient, ada: Person
) -> None:
    workspace = await workspace_of(client, ada)

    created = await new_key(client, ada, workspace, "members:read")

    secret = str(created["secret"])
    assert secret.startswith("nf_key_")
    assert created["prefix"] == secret[:13]
    assert created["permissions"] == ["members:read"]
    assert created["last_used_at"] is None
    used = await client.get(f"/api/v1/workspaces/{workspace}/members", headers=bearer(secret))
    assert used.status_code == 200, used.text
    assert [m["user_id"] for m in used.json()] == [ada.user_id]

    listed = await client.get(f"/api/v1/workspaces/{workspace}/api-keys", headers=ada.headers)
    assert listed.status_code == 200
    assert secret not in listed.text
    (key,) = listed.json()
    assert "secret" not in key
    assert key["id"] == created["id"]
    assert key["prefix"] == created["prefix"]
    assert key["last_used_at"] is not None


async def test_a_viewer_cannot_create_a_key(
    client: httpx.AsyncClient, container: ApplicationContainer, ada: Person, bob: Person
) -> None:
    workspace = await workspace_of(client, ada)
    await join(container, workspace, bob, WorkspaceRole.VIEWER)
    url = f"/api/v1/workspaces/{workspace}/api-keys"

    refused = await client.post(
        url, json={"name": "CI", "permissions": ["members:read"]}, headers=bob.headers
    )

    assert refused.status_code == 403
    assert refused.json()["permission"] == "api_keys:manage"


async def test_a_key_acts_only_with_its_permissions_in_its_own_workspace(
    client: httpx.AsyncClient, ada: Person, bob: Person
) -> None:
    workspace = await workspace_of(client, ada)
    theirs = await workspace_of(client, bob, "Bob's")
    secret = str((await new_key(client, ada, workspace, "members:read"))["secret"])

    lacking = await client.patch(
        f"/api/v1/workspaces/{workspace}", json={"name": "Mine"}, headers=bearer(secret)
    )
    keys = await client.get(f"/api/v1/workspaces/{workspace}/api-keys", headers=bearer(secret))
    elsewhere = await client.get(f"/api/v1/workspaces/{theirs}/members", headers=bearer(secret))
    no_permission_route = await client.delete(
        f"/api/v1/workspaces/{workspace}/members/{ada.user_id}", headers=bearer(secret)
    )

    assert lacking.status_code == 403
    assert lacking.json()["permission"] == "workspace:update"
    assert keys.status_code == 403
    assert elsewhere.status_code == 404
    assert no_permission_route.status_code == 403


async def test_a_key_is_not_a_user(client: httpx.AsyncClient, ada: Person) -> None:
    workspace = await workspace_of(client, ada)
    secret = str(
        (await new_key(client, ada, workspace, "members:read", "workspace:read"))["secret"]
    )

    for path in ("/api/v1/me", "/api/v1/workspaces", "/api/v1/admin/users"):
        response = await client.get(path, headers=bearer(secret))
        assert response.status_code == 401, (path, response.text)
    create = await client.post("/api/v1/workspaces", json={"name": "X"}, headers=bearer(secret))
    assert create.status_code == 401


async def test_a_revoked_or_expired_key_is_refused(
    client: httpx.AsyncClient, clock: FixedClock, ada: Person
) -> None:
    workspace = await workspace_of(client, ada)
    revoked = await new_key(client, ada, workspace, "members:read")
    expiring = await new_key(
        client,
        ada,
        workspace,
        "members:read",
        expires_at=(clock.now() + timedelta(hours=1)).isoformat(),
    )
    members = f"/api/v1/workspaces/{workspace}/members"

    gone = await client.delete(
        f"/api/v1/workspaces/{workspace}/api-keys/{revoked['id']}", headers=ada.headers
    )
    again = await client.delete(
        f"/api/v1/workspaces/{workspace}/api-keys/{revoked['id']}", headers=ada.headers
    )
    assert gone.status_code == 204
    assert again.status_code == 404
    refused = await client.get(members, headers=bearer(str(revoked["secret"])))
    assert refused.status_code == 401

    assert (await client.get(members, headers=bearer(str(expiring["secret"])))).status_code == 200
    clock.advance(timedelta(hours=1))
    expired = await client.get(members, headers=bearer(str(expiring["secret"])))
    assert expired.status_code == 401
