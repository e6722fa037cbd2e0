"""A workspace's webhook endpoints over HTTP: managed by its owners and admins only, the
secret shown at creation and rotation only, test events and redeliveries through the
delivery log, and another workspace's endpoints out of reach."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import msgspec
import pytest
from dependency_injector import providers

from adapters.memory.webhooks import FakeWebhookTransport
from adapters.sql.notifications.outbox import list_emails
from core.identity import WorkspaceRole
from core.kernel import FixedClock
from core.workflows.webhook_model import WebhookPolicy, WebhookResponse
from core.workflows.webhook_signing import verify
from entrypoints.containers import ApplicationContainer
from entrypoints.testing.people import Person, join, person, workspace_of
from entrypoints.testing.workflows import run_jobs

URL = "https://hooks.example.com/ninefold"


@pytest.fixture
def transport(container: ApplicationContainer) -> Iterator[FakeWebhookTransport]:
    fake = FakeWebhookTransport()
    with container.workflows.webhook_transport.override(providers.Object(fake)):
        yield fake


@pytest.fixture
async def ada(client: httpx.AsyncClient, container: ApplicationContainer) -> Person:
    return await person(client, container, "ada")


@pytest.fixture
async def workspace(client: httpx.AsyncClient, clock: FixedClock, ada: Person) -> str:
    created = await workspace_of(client, ada)
    clock.advance(timedelta(seconds=1))  # its creation's events are older than any endpoint
    return created


def hooks(workspace: str, *rest: str) -> str:
    return "/".join([f"/api/v1/workspaces/{workspace}/webhooks", *rest])


async def create(
    client: httpx.AsyncClient, who: Person, workspace: str, **fields: Any
) -> dict[str, Any]:
    response = await client.post(hooks(workspace), json={"url": URL, **fields}, headers=who.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_an_owner_registers_an_endpoint_whose_secret_is_shown_once(
    client: httpx.AsyncClient, ada: Person, workspace: str
) -> None:
    created = await create(
        client, ada, workspace, events=["identity.member_added"], description="CRM"
    )

    assert created["id"].startswith("whe_")
    assert created["secret"].startswith("whsec_")
    assert (created["url"], created["events"], created["description"]) == (
        URL,
        ["identity.member_added"],
        "CRM",
    )
    assert created["enabled"] is True
    listed = await client.get(hooks(workspace), headers=ada.headers)
    read = await client.get(hooks(workspace, created["id"]), headers=ada.headers)
    assert listed.status_code == read.status_code == 200
    assert created["secret"] not in listed.text + read.text
    assert [e["id"] for e in listed.json()] == [created["id"]]
    assert "secret" not in read.json()


async def test_the_event_types_on_offer_are_the_workspaces_public_events(
    client: httpx.AsyncClient, ada: Person, workspace: str
) -> None:
    response = await client.get(hooks(workspace, "event-types"), headers=ada.headers)

    assert response.status_code == 200
    offered = response.json()["event_types"]
    assert "identity.member_added" in offered
    assert "identity.user_registered" not in offered  # a user's own event, not the tenant's


@pytest.mark.parametrize(
    ("fields", "status", "problem"),
    [
        ({"url": "ftp://hooks.example.com/"}, 422, "workflows/invalid-webhook-url"),
        ({"url": "https://user:password@hooks.example.com/"}, 422, "workflows/invalid-webhook-url"),
        ({"events": ["identity.password_reset"]}, 422, "workflows/invalid-webhook-events"),
        ({"events": ["*", "identity.member_added"]}, 422, "workflows/invalid-webhook-events"),
        ({"description": "x" * 501}, 422, "workflows/invalid-webhook-endpoint"),
        ({"secret": "whsec_mine"}, 400, "invalid-request"),
    ],
)
async def test_an_invalid_endpoint_is_refused_with_a_problem(
    client: httpx.AsyncClient,
    ada: Person,
    workspace: str,
    fields: dict[str, Any],
    status: int,
    problem: str,
) -> None:
    response = await client.post(hooks(workspace), json={"url": URL, **fields}, headers=ada.headers)

    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == f"https://ninefold.dev/problems/{problem}"


async def test_in_development_and_tests_a_local_url_is_allowed(
    client: httpx.AsyncClient, ada: Person, workspace: str
) -> None:
    created = await create(client, ada, workspace, url="http://127.0.0.1:9999/in")

    assert created["url"] == "http://127.0.0.1:9999/in"


@pytest.mark.parametrize(
    "url",
    ["http://hooks.example.com/", "https://169.254.169.254/latest", "https://localhost/in"],
)
async def test_where_private_urls_are_not_allowed_they_are_refused(
    client: httpx.AsyncClient,
    container: ApplicationContainer,
    ada: Person,
    workspace: str,
    url: str,
) -> None:
    production_like = WebhookPolicy(allow_private_urls=False)
    with container.workflows.webhook_policy.override(providers.Object(production_like)):
        response = await client.post(hooks(workspace), json={"url": url}, headers=ada.headers)

    assert response.status_code == 422, response.text
    assert response.json()["type"].endswith("/invalid-webhook-url")


async def test_an_endpoint_is_changed_disabled_enabled_and_deleted(
    client: httpx.AsyncClient, ada: Person, workspace: str
) -> None:
    endpoint = await create(client, ada, workspace)
    path = hooks(workspace, endpoint["id"])

    changed = await client.patch(
        path,
        json={
            "url": "https://other.example.com/in",
            "events": ["identity.member_removed"],
            "description": "billing sync",
            "enabled": False,
        },
        headers=ada.headers,
    )
    enabled = await client.patch(path, json={"enabled": True}, headers=ada.headers)
    removed = await client.delete(path, headers=ada.headers)
    after = await client.get(path, headers=ada.headers)

    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["url"], body["events"], body["description"], body["enabled"]) == (
        "https://other.example.com/in",
        ["identity.member_removed"],
        "billing sync",
        False,
    )
    assert body["disabled_reason"] == "disabled by a workspace admin"
    assert enabled.json()["enabled"] is True
    assert enabled.json()["disabled_at"] is None
    assert removed.status_code == 204
    assert after.status_code == 404
    assert after.json()["type"].endswith("/webhook-endpoint-not-found")


async def test_a_rotated_secret_is_shown_once_and_the_old_one_lasts_a_day(
    client: httpx.AsyncClient, clock: FixedClock, ada: Person, workspace: str
) -> None:
    endpoint = await create(client, ada, workspace)

    rotated = await client.post(
        hooks(workspace, endpoint["id"], "rotate-secret"), headers=ada.headers
    )

    assert rotated.status_code == 200, rotated.text
    body = rotated.json()
    assert body["secret"].startswith("whsec_")
    assert body["secret"] != endpoint["secret"]
    expires = msgspec.convert(body["previous_secret_expires_at"], type=type(clock.now()))
    assert expires == clock.now() + timedelta(hours=24)


async def test_a_test_event_is_delivered_logged_and_redelivered_with_the_same_id(
    client: httpx.AsyncClient,
    container: ApplicationContainer,
    clock: FixedClock,
    transport: FakeWebhookTransport,
    ada: Person,
    workspace: str,
) -> None:
    endpoint = await create(client, ada, workspace)
    transport.answer(500)

    scheduled = await client.post(hooks(workspace, endpoint["id"], "test"), headers=ada.headers)
    await run_jobs(container)
    log = await client.get(hooks(workspace, endpoint["id"], "deliveries"), headers=ada.headers)

    assert scheduled.status_code == 202, scheduled.text
    (sent,) = transport.sent
    verify(endpoint["secret"], sent.headers, sent.body, now=clock.now())
    assert sent.headers["webhook-id"] == scheduled.json()["message_id"]
    assert msgspec.json.decode(sent.body)["type"] == "webhook.test"
    (attempt,) = log.json()["deliveries"]
    assert (attempt["status"], attempt["status_code"], attempt["trigger"]) == (
        "failed",
        500,
        "test",
    )
    assert "body" not in attempt

    again = await client.post(
        hooks(workspace, endpoint["id"], "deliveries", attempt["id"], "redeliver"),
        headers=ada.headers,
    )
    await run_jobs(container)
    log = await client.get(hooks(workspace, endpoint["id"], "deliveries"), headers=ada.headers)

    assert again.status_code == 202, again.text
    first, second = transport.sent
    assert (second.body, second.headers["webhook-id"]) == (first.body, first.headers["webhook-id"])
    newest = log.json()["deliveries"][0]
    assert (newest["status"], newest["trigger"]) == ("succeeded", "redelivery")


async def test_the_delivery_log_is_paged_with_a_cursor(
    client: httpx.AsyncClient,
    container: ApplicationContainer,
    transport: FakeWebhookTransport,
    ada: Person,
    workspace: str,
) -> None:
    endpoint = await create(client, ada, workspace)
    for _ in range(3):
        await client.post(hooks(workspace, endpoint["id"], "test"), headers=ada.headers)
    await run_jobs(container)
    path = hooks(workspace, endpoint["id"], "deliveries")

    first = (await client.get(path, params={"limit": 2}, headers=ada.headers)).json()
    rest = (
        await client.get(
            path, params={"limit": 2, "cursor": first["next_cursor"]}, headers=ada.headers
        )
    ).json()

    assert len(transport.sent) == 3
    assert [len(first["deliveries"]), len(rest["deliveries"])] == [2, 1]
    assert rest["next_cursor"] is None
    ids = [d["id"] for d in first["deliveries"] + rest["deliveries"]]
    assert ids == sorted(ids, reverse=True)


@pytest.mark.parametrize(
    "role", [WorkspaceRole.MEMBER, WorkspaceRole.BILLING, WorkspaceRole.VIEWER]
)
async def test_only_owners_and_admins_manage_webhooks(
    client: httpx.AsyncClient,
    container: ApplicationContainer,
    ada: Person,
    workspace: str,
    role: WorkspaceRole,
) -> None:
    endpoint = await create(client, ada, workspace)
    bob = await person(client, container, "bob")
    await join(container, workspace, bob, role)
    carol = await person(client, container, "carol")
    await join(container, workspace, carol, WorkspaceRole.ADMIN)

    attempts = [
        await client.get(hooks(workspace), headers=bob.headers),
        await client.post(hooks(workspace), json={"url": URL}, headers=bob.headers),
        await client.get(hooks(workspace, endpoint["id"]), headers=bob.headers),
        await client.patch(
            hooks(workspace, endpoint["id"]), json={"enabled": False}, headers=bob.headers
        ),
        await client.post(hooks(workspace, endpoint["id"], "rotate-secret"), headers=bob.headers),
        await client.get(hooks(workspace, endpoint["id"], "deliveries"), headers=bob.headers),
        await client.delete(hooks(workspace, endpoint["id"]), headers=bob.headers),
    ]

    assert [r.status_code for r in attempts] == [403] * len(attempts)
    assert {r.json()["permission"] for r in attempts} == {"webhooks:manage"}
    by_admin = await client.get(hooks(workspace), headers=carol.headers)
    assert by_admin.status_code == 200
    assert [e["id"] for e in by_admin.json()] == [endpoint["id"]]


async def test_another_workspaces_endpoint_is_not_found_from_mine(
    client: httpx.AsyncClient, container: ApplicationContainer, ada: Person, workspace: str
) -> None:
    bob = await person(client, container, "bob")
    bobs = await workspace_of(client, bob, "Bob's")
    theirs = await create(client, bob, bobs)

    probes = [
        await client.get(hooks(workspace, theirs["id"]), headers=ada.headers),
        await client.patch(
            hooks(workspace, theirs["id"]), json={"enabled": False}, headers=ada.headers
        ),
        await client.post(hooks(workspace, theirs["id"], "test"), headers=ada.headers),
        await client.get(hooks(workspace, theirs["id"], "deliveries"), headers=ada.headers),
        await client.delete(hooks(workspace, theirs["id"]), headers=ada.headers),
        await client.get(hooks(bobs, theirs["id"]), headers=ada.headers),
    ]

    assert [p.status_code for p in probes] == [404] * len(probes)
    still = await client.get(hooks(bobs, theirs["id"]), headers=bob.headers)
    assert still.json()["enabled"] is True


async def test_an_api_key_with_webhooks_manage_may_manage_them(
    client: httpx.AsyncClient, ada: Person, workspace: str
) -> None:
    async def key(*permissions: str) -> dict[str, str]:
        response = await client.post(
            f"/api/v1/workspaces/{workspace}/api-keys",
            json={"name": "deploy", "permissions": list(permissions)},
            headers=ada.headers,
        )
        assert response.status_code == 201, response.text
        return {"Authorization": f"Bearer {response.json()['secret']}"}

    allowed = await client.post(
        hooks(workspace), json={"url": URL}, headers=await key("webhooks:manage")
    )
    refused = await client.get(hooks(workspace), headers=await key("members:read"))

    assert allowed.status_code == 201, allowed.text
    assert refused.status_code == 403


async def test_a_workspace_has_a_limited_number_of_endpoints(
    client: httpx.AsyncClient, container: ApplicationContainer, ada: Person, workspace: str
) -> None:
    limit = container.workflows.webhook_policy().max_endpoints
    for _ in range(limit):
        await create(client, ada, workspace)

    refused = await client.post(hooks(workspace), json={"url": URL}, headers=ada.headers)

    assert refused.status_code == 409
    assert refused.json()["type"].endswith("/webhook-endpoint-limit")
    assert refused.json()["limit"] == limit


async def test_an_endpoint_failing_for_days_is_disabled_and_its_admins_are_emailed(
    client: httpx.AsyncClient,
    container: ApplicationContainer,
    clock: FixedClock,
    transport: FakeWebhookTransport,
    ada: Person,
    workspace: str,
) -> None:
    bob = await person(client, container, "bob")
    carol = await person(client, container, "carol")
    await join(container, workspace, bob, WorkspaceRole.MEMBER)
    await join(container, workspace, carol, WorkspaceRole.ADMIN)
    endpoint = await create(client, ada, workspace, events=["identity.member_role_changed"])
    transport.default = 500
    members = f"/api/v1/workspaces/{workspace}/members/{bob.user_id}"

    await client.patch(members, json={"role": "viewer"}, headers=ada.headers)
    await run_jobs(container)
    clock.advance(timedelta(days=5))
    await client.patch(members, json={"role": "member"}, headers=ada.headers)
    await run_jobs(container)

    read = (await client.get(hooks(workspace, endpoint["id"]), headers=ada.headers)).json()
    assert read["enabled"] is False
    assert read["disabled_reason"] == "no delivery has succeeded for 5 days"
    async with container.unit_of_work() as uow:
        mailed = await list_emails(uow.session, limit=100)
    disabled = [m for m in mailed if m.category == "workflows.webhook_endpoint_disabled"]
    assert sorted(m.to for m in disabled) == [ada.email, carol.email]
    assert endpoint["id"] in disabled[0].text


async def test_an_answer_with_nul_characters_is_logged_on_every_database(
    client: httpx.AsyncClient,
    container: ApplicationContainer,
    transport: FakeWebhookTransport,
    ada: Person,
    workspace: str,
) -> None:
    endpoint = await create(client, ada, workspace)
    transport.answer(WebhookResponse(status_code=200, body_excerpt="ok\x00done", latency_ms=7))

    await client.post(hooks(workspace, endpoint["id"], "test"), headers=ada.headers)
    await run_jobs(container)

    log = await client.get(hooks(workspace, endpoint["id"], "deliveries"), headers=ada.headers)
    (attempt,) = log.json()["deliveries"]
    assert (attempt["status"], attempt["response_excerpt"]) == ("succeeded", "ok\ufffddone")
