"""Kill switches: staff engage and release them with a reason; an engaged HTTP switch
answers 503 with Retry-After and its runbook on the routes it guards; an engaged jobs
switch pauses its queues (the jobs wait, none is lost)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from core.identity import StaffRole
from core.notifications import NotificationRequest, Recipient
from entrypoints.containers import ApplicationContainer
from entrypoints.testing.people import Person, person, staff_member, workspace_of
from entrypoints.testing.workflows import run_jobs

ADMIN = "/api/v1/admin/kill-switches"
SIGN_UP = {"email": "new@example.com", "password": "violet-kestrel-harbour-47", "name": "New"}


@pytest.fixture
async def ops(client: httpx.AsyncClient, container: ApplicationContainer) -> Person:
    return await staff_member(client, container, "ops", StaffRole.OPS)


async def _engage(client: httpx.AsyncClient, who: Person, name: str, reason: str = "outage") -> Any:
    response = await client.post(
        f"{ADMIN}/{name}/engage", json={"reason": reason}, headers=who.headers
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_an_engaged_switch_answers_503_with_retry_after_and_its_runbook(
    client: httpx.AsyncClient, ops: Person
) -> None:
    engaged = await _engage(client, ops, "signups", "a wave of fake accounts")
    assert engaged["engaged"] is True
    assert engaged["changed_by"] == ops.user_id
    assert engaged["runbook"] == "docs/runbooks/kill-switches/signups.md"

    refused = await client.post("/api/v1/auth/sign-up", json=SIGN_UP)

    assert refused.status_code == 503
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.headers["retry-after"] == "300"
    problem = refused.json()
    assert problem["type"].endswith("safety/kill-switch-engaged")
    assert problem["kill_switch"] == "signups"
    assert problem["runbook"] == "docs/runbooks/kill-switches/signups.md"

    released = await client.post(
        f"{ADMIN}/signups/release", json={"reason": "wave over"}, headers=ops.headers
    )
    assert released.status_code == 200
    assert (await client.post("/api/v1/auth/sign-up", json=SIGN_UP)).status_code == 202


async def test_checkout_is_guarded_by_its_switch(
    client: httpx.AsyncClient, container: ApplicationContainer, ops: Person
) -> None:
    owner = await person(client, container, "ada")
    ws = await workspace_of(client, owner)
    await _engage(client, ops, "checkout")

    refused = await client.post(
        f"/api/v1/workspaces/{ws}/billing/checkout",
        json={"plan": "pro", "interval": "month"},
        headers=owner.headers,
    )

    assert refused.status_code == 503
    assert refused.json()["kill_switch"] == "checkout"
    # Other billing routes stay up.
    state = await client.get(f"/api/v1/workspaces/{ws}/billing/subscription", headers=owner.headers)
    assert state.status_code == 200


async def test_a_change_needs_a_reason_and_must_change_something(
    client: httpx.AsyncClient, ops: Person
) -> None:
    blank = await client.post(
        f"{ADMIN}/checkout/engage", json={"reason": "  "}, headers=ops.headers
    )
    unknown = await client.post(f"{ADMIN}/nope/engage", json={"reason": "x"}, headers=ops.headers)
    released = await client.post(
        f"{ADMIN}/checkout/release", json={"reason": "x"}, headers=ops.headers
    )

    assert blank.status_code == 422
    assert blank.json()["type"].endswith("safety/reason-required")
    assert unknown.status_code == 404
    assert unknown.json()["type"].endswith("safety/unknown-kill-switch")
    assert released.status_code == 409
    assert released.json()["type"].endswith("safety/kill-switch-unchanged")


async def test_staff_read_the_switches_and_their_history(
    client: httpx.AsyncClient, container: ApplicationContainer, ops: Person
) -> None:
    await _engage(client, ops, "checkout", "provider down")
    await client.post(f"{ADMIN}/checkout/release", json={"reason": "back"}, headers=ops.headers)
    support = await staff_member(client, container, "support", StaffRole.SUPPORT)

    listed = await client.get(ADMIN, headers=support.headers)
    detail = await client.get(f"{ADMIN}/checkout", headers=support.headers)
    forbidden = await client.post(
        f"{ADMIN}/checkout/engage", json={"reason": "x"}, headers=support.headers
    )
    stranger = await person(client, container, "eve")
    hidden = await client.get(ADMIN, headers=stranger.headers)

    assert listed.status_code == 200
    assert {s["name"] for s in listed.json()} == {
        "signups",
        "checkout",
        "outbound-email",
        "webhook-delivery",
        "media-uploads",
    }
    assert [(h["engaged"], h["reason"]) for h in detail.json()["history"]] == [
        (False, "back"),
        (True, "provider down"),
    ]
    assert forbidden.status_code == 403
    assert hidden.status_code == 404


async def test_an_engaged_jobs_switch_pauses_its_queue_and_loses_nothing(
    client: httpx.AsyncClient, container: ApplicationContainer, ops: Person
) -> None:
    ada = await person(client, container, "ada")
    await run_jobs(container)
    await _engage(client, ops, "outbound-email", "bounces spiking")
    async with container.unit_of_work() as uow:
        await container.notifications.notifier(uow=uow).notify(
            NotificationRequest(
                type="billing.credits_low",
                recipient=Recipient(user_id=ada.user_id, email=ada.email, name="Ada"),
                data={
                    "workspace_name": "Acme",
                    "balance": 1,
                    "threshold": 10,
                    "billing_url": "http://127.0.0.1/b",
                },
                idempotency_key="paused-1",
            )
        )
        await uow.commit()

    await run_jobs(container)
    waiting = await _deliveries(client, ops, status="queued")

    await client.post(
        f"{ADMIN}/outbound-email/release", json={"reason": "fixed"}, headers=ops.headers
    )
    await run_jobs(container)
    sent = await _deliveries(client, ops, status="sent")

    assert waiting == 1
    assert sent >= 1


async def _deliveries(client: httpx.AsyncClient, staff: Person, *, status: str) -> int:
    response = await client.get(
        "/api/v1/admin/deliveries",
        params={"status": status, "channel": "email"},
        headers=staff.headers,
    )
    assert response.status_code == 200, response.text
    return len(response.json()["deliveries"])
