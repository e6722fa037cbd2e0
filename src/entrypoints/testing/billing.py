"""Billing scenario helpers for tests, on the sandbox payment provider: subscribe a
workspace through the real checkout page, let time pass (the sandbox renews, charges,
retries; webhooks are delivered and applied), fail a payment, walk the grace period,
recover.

Every helper ends with the sandbox's webhooks delivered through the ingestion path and
every job run, so what a test reads next is settled. Bearer sessions expire (30 days at
most): after a long ``advance``, sign in again before reading over HTTP, or read
through the container::

    session = await subscribe(client, container, owner, ws, plan="pro")
    await fail_next_payment(container, ws)
    await advance(container, clock, timedelta(days=31))   # the renewal fails: past due
    await advance(container, clock, timedelta(days=8))    # the grace period is over
    await recover(container, ws)
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from core.kernel import FixedClock
from entrypoints.containers import ApplicationContainer
from entrypoints.testing.people import Person
from entrypoints.testing.workflows import run_jobs

DAY = timedelta(days=1)


def sandbox(container: ApplicationContainer) -> Any:
    """The sandbox provider (``NINEFOLD_PAYMENTS_PROVIDER=sandbox``, the default)."""
    provider = container.billing.payment_provider()
    if provider.name != "sandbox":
        raise RuntimeError("the billing scenario helpers drive the sandbox payment provider")
    return provider


async def settle(container: ApplicationContainer) -> None:
    """Deliver the sandbox's webhooks and run every job, until nothing is left."""
    await sandbox(container).settle()
    await run_jobs(container)
    await sandbox(container).settle()
    await run_jobs(container)


async def subscribe(
    client: httpx.AsyncClient,
    container: ApplicationContainer,
    owner: Person,
    workspace_id: str,
    *,
    plan: str = "pro",
    interval: str = "month",
    seats: int = 1,
    trial: bool = False,
) -> dict[str, Any]:
    """Check out ``plan`` as ``owner`` and pay on the sandbox's page; the workspace's
    billing state (``GET billing/subscription``) once the webhooks are applied."""
    checkout = await client.post(
        f"/api/v1/workspaces/{workspace_id}/billing/checkout",
        json={"plan": plan, "interval": interval, "seats": seats, "trial": trial},
        headers=owner.headers,
    )
    assert checkout.status_code == 200, checkout.text
    page = urlsplit(checkout.json()["url"]).path
    paid = await client.post(f"{page}/pay", follow_redirects=False)
    assert paid.status_code == 303, paid.text
    await settle(container)
    state = await client.get(
        f"/api/v1/workspaces/{workspace_id}/billing/subscription", headers=owner.headers
    )
    assert state.status_code == 200, state.text
    found: dict[str, Any] = state.json()
    return found


async def advance(
    container: ApplicationContainer, clock: FixedClock, delta: timedelta, *, step: timedelta = DAY
) -> None:
    """Move the clock by ``delta`` in steps; at each the sandbox does what fell due
    (renewals, retries, trial ends, cancellations) and billing applies it."""
    left = delta
    while left > timedelta(0):
        moved = min(step, left)
        clock.advance(moved)
        left -= moved
        await sandbox(container).tick()
        await settle(container)


async def fail_next_payment(container: ApplicationContainer, workspace_id: str) -> None:
    """The workspace's card declines from now on (renewals and retries fail)."""
    await sandbox(container).set_card(workspace_id, works=False)


async def recover(container: ApplicationContainer, workspace_id: str) -> None:
    """The card works again and the owed invoice is paid now."""
    await sandbox(container).set_card(workspace_id, works=True)
    await sandbox(container).recover_payment(workspace_id)
    await settle(container)
