"""Billing's periodic jobs on the sandbox: usage reported to the provider (only the
difference, idempotently), subscriptions reconciled with the provider when a webhook
never came, expired credits broken."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from core.billing.ledger_model import TransactionKind
from core.kernel import TenantContext
from entrypoints.billing.jobs import reconcile, report_usage
from entrypoints.containers import ApplicationContainer
from entrypoints.testing.billing import advance, sandbox, subscribe
from entrypoints.testing.people import person, workspace_of


async def _calls(client: httpx.AsyncClient, ws: str, headers: dict[str, str], ids: range) -> None:
    events = [{"id": f"call-{n}", "meter": "api_calls"} for n in ids]
    response = await client.post(
        f"/api/v1/workspaces/{ws}/usage/batch", json={"events": events}, headers=headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == len(events)


async def _customer(container: ApplicationContainer, ws: str) -> str:
    async with container.unit_of_work() as uow:
        found = await container.billing.stores(uow.session).customers.customer_id("sandbox", ws)
    assert found is not None
    return str(found)


async def test_usage_is_reported_once_and_then_only_the_difference(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    owner = await person(client, container, "ada")
    ws = await workspace_of(client, owner)
    await subscribe(client, container, owner, ws, plan="pro")
    await _calls(client, ws, owner.headers, range(40))
    provider = sandbox(container)
    customer = await _customer(container, ws)

    assert await report_usage(container) == 1
    assert await provider.usage_total(customer, "api_calls") == 40
    assert await report_usage(container) == 0  # nothing new: nothing sent

    await _calls(client, ws, owner.headers, range(40, 42))
    assert await report_usage(container) == 1
    assert await provider.usage_total(customer, "api_calls") == 42


async def test_a_report_lost_after_it_was_sent_is_counted_once_when_sent_again(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    owner = await person(client, container, "ada")
    ws = await workspace_of(client, owner)
    await subscribe(client, container, owner, ws, plan="pro")
    await _calls(client, ws, owner.headers, range(10))
    provider = sandbox(container)
    customer = await _customer(container, ws)
    await report_usage(container)
    # The provider has the report but billing lost its note of it (a crash between the
    # call and the commit): the next run sends the same total under the same key.
    async with container.unit_of_work() as uow:
        sub = await container.billing.stores(uow.session).subscriptions.current(TenantContext(ws))
        assert sub is not None
        assert sub.current_period_start is not None
        reports = container.billing.stores(uow.session).usage_reports
        await reports.set_reported(
            ws, "api_calls", sub.current_period_start, 0, at=container.kernel.clock().now()
        )
        await uow.commit()
    await report_usage(container)
    assert await provider.usage_total(customer, "api_calls") == 10


async def test_reconcile_catches_up_with_a_change_whose_webhook_never_came(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    owner = await person(client, container, "ada")
    ws = await workspace_of(client, owner)
    state = await subscribe(client, container, owner, ws, plan="pro")
    provider = sandbox(container)
    provider.set_webhook_sink(None)  # the provider's webhooks are lost
    async with container.unit_of_work() as uow:
        sub = await container.billing.stores(uow.session).subscriptions.get(
            state["subscription"]["id"]
        )
    assert sub is not None
    assert sub.provider_subscription_id is not None
    await provider.cancel(sub.provider_subscription_id, at_period_end=True, idempotency_key="k")

    assert await reconcile(container) == 1
    after = await client.get(f"/api/v1/workspaces/{ws}/billing/subscription", headers=owner.headers)
    assert after.json()["subscription"]["cancel_at_period_end"] is True
    assert await reconcile(container) == 0


async def test_expired_credits_are_broken_by_the_hourly_job(
    client: httpx.AsyncClient, container: ApplicationContainer, clock: Any
) -> None:
    owner = await person(client, container, "ada")
    ws = await workspace_of(client, owner)
    credits = await client.get(f"/api/v1/workspaces/{ws}/credits", headers=owner.headers)
    assert credits.json()["available"] == 100  # the free plan's month
    await advance(container, clock, timedelta(days=32), step=timedelta(days=32))
    async with container.unit_of_work() as uow:
        await container.billing.ledger(uow=uow).expire(clock.now())
        await uow.commit()
    async with container.unit_of_work() as uow:
        page = await container.billing.ledger(uow=uow).transactions(TenantContext(ws))
    kinds = [t.kind for t in page.items]
    assert TransactionKind.EXPIRY in kinds


async def test_usage_of_the_period_before_a_renewal_is_still_reported(
    client: httpx.AsyncClient, container: ApplicationContainer, clock: Any
) -> None:
    owner = await person(client, container, "ada")
    ws = await workspace_of(client, owner)
    state = await subscribe(client, container, owner, ws, plan="pro")
    await _calls(client, ws, owner.headers, range(5))
    assert await report_usage(container) == 1
    provider = sandbox(container)
    customer = await _customer(container, ws)
    # Two more calls just before the period ends, then the renewal, then the report.
    clock.advance(timedelta(days=30, hours=23))
    headers = await _signed_in(client, owner.email)
    await _calls(client, ws, headers, range(5, 7))
    await advance(container, clock, timedelta(days=1))
    after = await client.get(f"/api/v1/workspaces/{ws}/billing/subscription", headers=headers)
    assert (
        after.json()["subscription"]["current_period_start"]
        != state["subscription"]["current_period_start"]
    )
    assert await report_usage(container) == 1
    assert await provider.usage_total(customer, "api_calls") == 7


async def _signed_in(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    from entrypoints.testing.people import PASSWORD

    response = await client.post(
        "/api/v1/auth/sign-in", json={"email": email, "password": PASSWORD, "transport": "bearer"}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}
