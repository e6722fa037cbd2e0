"""The whole money flow on the sandbox, through the HTTP API, with the clock moved by the
test: sign up -> workspace -> checkout paid on the sandbox's page -> its signed webhook
-> subscription active -> entitlements granted -> usage recorded -> limit reached ->
payment fails -> grace period (dunning) -> access falls back -> payment recovers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select

from adapters.sql.notifications.tables import deliveries
from entrypoints.containers import ApplicationContainer
from entrypoints.testing.people import PASSWORD, Person, person, workspace_of
from entrypoints.testing.workflows import run_jobs

DAY = timedelta(days=1)


async def _json(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def _entitlements(client: httpx.AsyncClient, ws: str, headers: dict[str, str]) -> Any:
    return await _json(await client.get(f"/api/v1/workspaces/{ws}/entitlements", headers=headers))


async def _subscription(client: httpx.AsyncClient, ws: str, headers: dict[str, str]) -> Any:
    return await _json(
        await client.get(f"/api/v1/workspaces/{ws}/billing/subscription", headers=headers)
    )


async def _signed_in_again(client: httpx.AsyncClient, who: Person) -> dict[str, str]:
    """A new bearer session: the clock moves past sessions' lifetimes in this test."""
    response = await client.post(
        "/api/v1/auth/sign-in",
        json={"email": who.email, "password": PASSWORD, "transport": "bearer"},
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def _dunning(container: ApplicationContainer, user_id: str) -> int:
    async with container.unit_of_work() as uow:
        rows = await uow.session.execute(
            select(deliveries.c.id).where(
                deliveries.c.notification_type == "billing.payment_failed",
                deliveries.c.user_id == user_id,
                deliveries.c.channel == "email",
            )
        )
        return len(rows.all())


async def test_sign_up_to_recovery_on_the_sandbox(
    client: httpx.AsyncClient, container: ApplicationContainer, clock: Any
) -> None:
    owner = await person(client, container, "ada")
    ws = await workspace_of(client, owner)
    provider = container.billing.payment_provider()
    grace_days = container.settings().billing_grace_days

    # A new workspace is on the free plan.
    free = await _entitlements(client, ws, owner.headers)
    assert free["plan"] == "free"
    assert free["access"]["state"] == "fallback"
    assert "webhooks" not in free["features"]

    # Checkout on the sandbox's page, paid.
    checkout = await _json(
        await client.post(
            f"/api/v1/workspaces/{ws}/billing/checkout",
            json={"plan": "pro", "interval": "month", "seats": 3, "trial": False},
            headers={**owner.headers, "Idempotency-Key": "checkout-1"},
        )
    )
    page = urlsplit(checkout["url"]).path
    shown = await client.get(page)
    assert shown.status_code == 200
    assert "Pro" in shown.text
    paid = await client.post(f"{page}/pay", follow_redirects=False)
    assert paid.status_code == 303, paid.text
    assert paid.headers["location"].endswith("checkout=done")

    # The sandbox's signed webhooks go through the ingestion path; the job applies them.
    await provider.settle()
    await run_jobs(container)
    state = await _subscription(client, ws, owner.headers)
    assert state["subscription"]["status"] == "active"
    assert state["subscription"]["plan"] == "pro"
    assert state["access"]["state"] == "full"
    sub_id = state["subscription"]["id"]

    pro = await _entitlements(client, ws, owner.headers)
    assert pro["plan"] == "pro"
    assert "webhooks" in pro["features"]
    storage = next(m for m in pro["meters"] if m["meter"] == "storage_gb")
    assert storage["hard_limit"] == 500

    credits = await _json(
        await client.get(f"/api/v1/workspaces/{ws}/credits", headers=owner.headers)
    )
    assert credits["available"] == 1_000  # the plan's allocation for the period

    invoices = await _json(
        await client.get(f"/api/v1/workspaces/{ws}/invoices", headers=owner.headers)
    )
    assert [i["status"] for i in invoices["invoices"]] == ["paid"]
    assert invoices["invoices"][0]["total"] == 4_500  # 3 seats at 15.00

    # Usage is recorded; the hard limit refuses more with a problem naming it.
    usage = f"/api/v1/workspaces/{ws}/usage"
    reading = {"id": "gb-1", "meter": "storage_gb", "properties": {"gb": 450}}
    assert (await _json(await client.post(usage, json=reading, headers=owner.headers)))[
        "status"
    ] == "accepted"
    again = await _json(await client.post(usage, json=reading, headers=owner.headers))
    assert again["status"] == "duplicate"
    over = await client.post(
        usage,
        json={"id": "gb-2", "meter": "storage_gb", "properties": {"gb": 501}},
        headers=owner.headers,
    )
    assert over.status_code == 409, over.text
    problem = over.json()
    assert problem["type"].endswith("billing/usage-limit-exceeded")
    assert problem["limit"] == 500
    assert over.headers["content-type"].startswith("application/problem+json")

    # The next renewal's payment fails: past due, full plan during the grace period.
    await provider.set_card(ws, works=False)
    clock.advance(timedelta(days=31))
    await provider.tick()
    await provider.settle()
    await run_jobs(container)
    headers = await _signed_in_again(client, owner)
    state = await _subscription(client, ws, headers)
    assert state["subscription"]["status"] == "past_due"
    assert state["access"]["state"] == "grace"
    assert (await _entitlements(client, ws, headers))["plan"] == "pro"
    assert await _dunning(container, owner.user_id) == 1

    # Retries fail too (more dunning); when the grace period is over, the free plan.
    for _ in range(grace_days):
        clock.advance(DAY)
        await provider.tick()
        await provider.settle()
        await run_jobs(container)
    headers = await _signed_in_again(client, owner)
    assert await _dunning(container, owner.user_id) >= 2
    fallen = await _entitlements(client, ws, headers)
    assert fallen["plan"] == "free"
    assert fallen["access"]["state"] == "fallback"
    assert "webhooks" not in fallen["features"]

    # The card is fixed and the owed invoice paid: the plan is back.
    await provider.set_card(ws, works=True)
    await provider.recover_payment(ws)
    await provider.settle()
    await run_jobs(container)
    state = await _subscription(client, ws, headers)
    assert state["subscription"]["id"] == sub_id
    assert state["subscription"]["status"] == "active"
    back = await _entitlements(client, ws, headers)
    assert back["plan"] == "pro"
    assert back["access"]["state"] == "full"
