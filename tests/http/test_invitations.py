"""Invitations over HTTP: invite by email, accept signed in or by creating the account,
revoke, expiry, single use, and who may invite whom."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest

from adapters.sql.notifications.outbox import list_emails
from core.identity import WorkspaceRole
from core.kernel import FixedClock
from entrypoints.containers import ApplicationContainer
from entrypoints.testing.people import PASSWORD, Person, join, person, workspace_of

BASE = "https://ninefold.dev/problems/"
LINK = re.compile(r"/invitations/(nf_inv_[A-Za-z0-9_\-]+)")


@pytest.fixture
async def ada(client: httpx.AsyncClient, container: ApplicationContainer) -> Person:
    return await person(client, container, "ada")


@pytest.fixture
async def bob(client: httpx.AsyncClient, container: ApplicationContainer) -> Person:
    return await person(client, container, "bob")


async def invite(
    client: httpx.AsyncClient, who: Person, workspace: str, email: str, role: str = "member"
) -> httpx.Response:
    return await client.post(
        f"/api/v1/workspaces/{workspace}/invitations",
        json={"email": email, "role": role},
        headers=who.headers,
    )


async def invitation_token(container: ApplicationContainer, address: str) -> str:
    async with container.unit_of_work() as uow:
        stored = await list_emails(uow.session, limit=50, to=address)
    assert stored, f"an email went to {address}"
    latest = stored[0].message  # newest first
    assert latest.category == "workspace.invitation"
    match = LINK.search(latest.text)
    assert match, "the invitation email carries the accept link"
    return match.group(1)


async def members(client: httpx.AsyncClient, who: Person, workspace: str) -> dict[str, str]:
    listed = await client.get(f"/api/v1/workspaces/{workspace}/members", headers=who.headers)
    return {m["user_id"]: m["role"] for m in listed.json()}


async def test_an_invited_user_accepts_while_signed_in_and_joins_with_the_role(
    client: httpx.AsyncClient, container: ApplicationContainer, ada: Person, bob: Person
) -> None:
    workspace = await workspace_of(client, ada)

    created = await invite(client, ada, workspace, " BOB@example.com ", "admin")
    token = await invitation_token(container, "bob@example.com")
    pending = await client.get(f"/api/v1/workspaces/{workspace}/invitations", headers=ada.headers)
    accepted = await client.post(f"/api/v1/invitations/{token}/accept", headers=bob.headers)
    again = await client.post(f"/api/v1/invitations/{token}/accept", headers=bob.headers)

    assert created.status_code == 201, created.text
    assert created.json()["email"] == "bob@example.com"
    assert created.json()["role"] == "admin"
    assert "token" not in created.json()
    assert [i["email"] for i in pending.json()] == ["bob@example.com"]
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["workspace"]["id"] == workspace
    assert accepted.json()["workspace"]["role"] == "admin"
    assert "token" not in accepted.json()
    assert (await members(client, ada, workspace))[bob.user_id] == "admin"
    assert again.status_code == 400
    assert again.json()["type"] == BASE + "identity/invalid-token"
    after = await client.get(f"/api/v1/workspaces/{workspace}/invitations", headers=ada.headers)
    assert after.json() == []


async def test_someone_without_an_account_signs_up_by_accepting(
    client: httpx.AsyncClient, container: ApplicationContainer, ada: Person
) -> None:
    workspace = await workspace_of(client, ada)
    await invite(client, ada, workspace, "carol@example.com")
    token = await invitation_token(container, "carol@example.com")

    anonymous = await client.post(f"/api/v1/invitations/{token}/accept")
    weak = await client.post(
        f"/api/v1/invitations/{token}/accept", json={"password": "password123"}
    )
    accepted = await client.post(
        f"/api/v1/invitations/{token}/accept",
        json={"password": PASSWORD, "name": "Carol", "transport": "bearer"},
    )

    assert anonymous.status_code == 401
    assert weak.status_code == 422, weak.text
    assert accepted.status_code == 200, accepted.text
    body = accepted.json()
    assert body["user"]["email"] == "carol@example.com"
    assert body["user"]["email_verified"] is True
    assert body["workspace"]["role"] == "member"
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.json()["name"] == "Carol"
    assert body["user"]["id"] in await members(client, ada, workspace)


async def test_accepting_with_sign_up_sets_session_cookies_by_default(
    client: httpx.AsyncClient, container: ApplicationContainer, ada: Person
) -> None:
    workspace = await workspace_of(client, ada)
    await invite(client, ada, workspace, "carol@example.com")
    token = await invitation_token(container, "carol@example.com")

    accepted = await client.post(f"/api/v1/invitations/{token}/accept", json={"password": PASSWORD})

    assert accepted.status_code == 200, accepted.text
    assert "nf_session" in accepted.headers.get("set-cookie", "")
    assert accepted.json()["csrf_token"]
    assert "token" not in accepted.json()


async def test_an_existing_account_must_sign_in_to_accept(
    client: httpx.AsyncClient, container: ApplicationContainer, ada: Person, bob: Person
) -> None:
    workspace = await workspace_of(client, ada)
    await invite(client, ada, workspace, bob.email)
    token = await invitation_token(container, bob.email)

    refused = await client.post(
        f"/api/v1/invitations/{token}/accept", json={"password": "another-" + PASSWORD}
    )

    assert refused.status_code == 401
    assert "sign in" in refused.json()["detail"]
    assert bob.user_id not in await members(client, ada, workspace)
    accepted = await client.post(f"/api/v1/invitations/{token}/accept", headers=bob.headers)
    assert accepted.status_code == 200, "the invitation was not used up"


async def test_only_the_invited_email_may_accept(
    client: httpx.AsyncClient, container: ApplicationContainer, ada: Person, bob: Person
) -> None:
    workspace = await workspace_of(client, ada)
    await invite(client, ada, workspace, "carol@example.com")
    token = await invitation_token(container, "carol@example.com")

    response = await client.post(f"/api/v1/invitations/{token}/accept", headers=bob.headers)

    assert response.status_code == 403
    assert response.json()["type"] == BASE + "identity/invitation-email-mismatch"
    assert bob.user_id not in await members(client, ada, workspace)


async def test_a_revoked_invitation_no_longer_works(
    client: httpx.AsyncClient, container: ApplicationContainer, ada: Person, bob: Person
) -> None:
    workspace = await workspace_of(client, ada)
    invitation_id = (await invite(client, ada, workspace, bob.email)).json()["id"]
    token = await invitation_token(container, bob.email)

    revoked = await client.delete(
        f"/api/v1/workspaces/{workspace}/invitations/{invitation_id}", headers=ada.headers
    )
    twice = await client.delete(
        f"/api/v1/workspaces/{workspace}/invitations/{invitation_id}", headers=ada.headers
    )
    response = await client.post(f"/api/v1/invitations/{token}/accept", headers=bob.headers)

    assert revoked.status_code == 204
    assert twice.status_code == 404
    assert twice.json()["type"] == BASE + "identity/invitation-not-found"
    assert response.status_code == 400
    assert response.json()["type"] == BASE + "identity/invalid-token"


async def test_an_invitation_expires_after_seven_days(
    client: httpx.AsyncClient,
    container: ApplicationContainer,
    clock: FixedClock,
    ada: Person,
) -> None:
    workspace = await workspace_of(client, ada)
    await invite(client, ada, workspace, "carol@example.com")
    token = await invitation_token(container, "carol@example.com")

    clock.advance(timedelta(days=7, seconds=1))
    carol = await person(client, container, "carol")  # signed in after the week
    response = await client.post(f"/api/v1/invitations/{token}/accept", headers=carol.headers)

    assert response.status_code == 400
    assert response.json()["type"] == BASE + "identity/invalid-token"


async def test_inviting_the_same_email_again_replaces_the_pending_invitation(
    client: httpx.AsyncClient, container: ApplicationContainer, ada: Person, bob: Person
) -> None:
    workspace = await workspace_of(client, ada)
    await invite(client, ada, workspace, bob.email)
    first = await invitation_token(container, bob.email)
    await invite(client, ada, workspace, bob.email, "viewer")
    second = await invitation_token(container, bob.email)

    pending = await client.get(f"/api/v1/workspaces/{workspace}/invitations", headers=ada.headers)
    old = await client.post(f"/api/v1/invitations/{first}/accept", headers=bob.headers)
    new = await client.post(f"/api/v1/invitations/{second}/accept", headers=bob.headers)

    assert [(i["email"], i["role"]) for i in pending.json()] == [(bob.email, "viewer")]
    assert old.status_code == 400
    assert new.status_code == 200
    assert new.json()["workspace"]["role"] == "viewer"


async def test_who_may_invite_whom(
    client: httpx.AsyncClient, container: ApplicationContainer, ada: Person, bob: Person
) -> None:
    workspace = await workspace_of(client, ada)
    carol = await person(client, container, "carol")
    await join(container, workspace, bob, WorkspaceRole.ADMIN)
    await join(container, workspace, carol, WorkspaceRole.MEMBER)

    by_member = await invite(client, carol, workspace, "dan@example.com")
    owner_by_admin = await invite(client, bob, workspace, "dan@example.com", "owner")
    admin_by_admin = await invite(client, bob, workspace, "dan@example.com", "admin")
    owner_by_owner = await invite(client, ada, workspace, "eve@example.com", "owner")
    a_member = await invite(client, ada, workspace, carol.email)
    bad_email = await invite(client, ada, workspace, "not an email")

    assert by_member.status_code == 403
    assert by_member.json()["permission"] == "members:invite"
    assert owner_by_admin.status_code == 403
    assert admin_by_admin.status_code == 201
    assert owner_by_owner.status_code == 201
    assert a_member.status_code == 409
    assert a_member.json()["type"] == BASE + "identity/already-member"
    assert bad_email.status_code == 422


async def test_another_workspaces_invitation_cannot_be_revoked(
    client: httpx.AsyncClient, container: ApplicationContainer, ada: Person, bob: Person
) -> None:
    adas = await workspace_of(client, ada)
    bobs = await workspace_of(client, bob)
    bobs_invitation = (await invite(client, bob, bobs, "carol@example.com")).json()["id"]

    response = await client.delete(
        f"/api/v1/workspaces/{adas}/invitations/{bobs_invitation}", headers=ada.headers
    )

    assert response.status_code == 404
    pending = await client.get(f"/api/v1/workspaces/{bobs}/invitations", headers=bob.headers)
    assert [i["id"] for i in pending.json()] == [bobs_invitation]


async def test_an_unknown_token_is_invalid(client: httpx.AsyncClient, bob: Person) -> None:
    response = await client.post("/api/v1/invitations/nf_inv_nope/accept", headers=bob.headers)

    assert response.status_code == 400
    assert response.json()["type"] == BASE + "identity/invalid-token"
