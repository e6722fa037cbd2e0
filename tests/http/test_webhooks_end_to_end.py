"""End to end: a real domain event reaches a real HTTP receiver on 127.0.0.1, signed so
that the receiver's verification (Standard Webhooks) accepts it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import msgspec
import pytest

from contracts.ports.webhooks import LocalReceiver
from core.identity import WorkspaceRole
from core.kernel import FixedClock
from core.workflows.webhook_signing import verify
from entrypoints.containers import ApplicationContainer
from entrypoints.testing.people import join, person, workspace_of
from entrypoints.testing.workflows import run_jobs


@pytest.fixture
def receiver() -> Iterator[LocalReceiver]:
    receiver = LocalReceiver()
    yield receiver
    receiver.close()


async def test_a_role_change_is_delivered_signed_to_a_local_receiver_and_logged(
    client: httpx.AsyncClient,
    container: ApplicationContainer,
    clock: FixedClock,
    receiver: LocalReceiver,
) -> None:
    ada = await person(client, container, "ada")
    bob = await person(client, container, "bob")
    workspace = await workspace_of(client, ada)
    await join(container, workspace, bob, WorkspaceRole.MEMBER)
    created = await client.post(
        f"/api/v1/workspaces/{workspace}/webhooks",
        json={"url": f"{receiver.url}/ninefold", "events": ["identity.member_role_changed"]},
        headers=ada.headers,
    )
    assert created.status_code == 201, created.text
    endpoint = created.json()

    promoted = await client.patch(
        f"/api/v1/workspaces/{workspace}/members/{bob.user_id}",
        json={"role": "admin"},
        headers=ada.headers,
    )
    await run_jobs(container)

    assert promoted.status_code == 200, promoted.text
    (delivery,) = receiver.received
    assert delivery.path == "/ninefold"
    verify(endpoint["secret"], delivery.headers, delivery.body, now=clock.now())
    body = msgspec.json.decode(delivery.body)
    assert body["type"] == "identity.member_role_changed"
    assert body["data"]["workspace_id"] == workspace
    assert (body["data"]["user_id"], body["data"]["role"]) == (bob.user_id, "admin")
    assert delivery.headers["content-type"] == "application/json"
    log = await client.get(
        f"/api/v1/workspaces/{workspace}/webhooks/{endpoint['id']}/deliveries",
        headers=ada.headers,
    )
    (attempt,) = log.json()["deliveries"]
    assert (attempt["status"], attempt["status_code"], attempt["response_excerpt"]) == (
        "succeeded",
        200,
        "ok",
    )
    assert attempt["message_id"] == delivery.headers["webhook-id"]
    assert attempt["event_id"] == body["id"]
    assert attempt["latency_ms"] is not None
