"""A workspace's billing over HTTP, on the sandbox payment provider: checkout (a plan
or a credit pack), trials, plan changes, cancellation, the portal, metered usage and
its alerts, credits, invoices and seats.

The sandbox is driven as a customer and time would drive it: its checkout page is paid
(``POST {page}/pay``), ``clock.advance`` then ``provider.tick()`` moves its
subscriptions on, ``provider.settle()`` delivers its signed webhooks through the real
ingestion path and ``run_jobs`` applies them.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec
import pytest
from sqlalchemy import select

from adapters.sql.notifications.outbox import list_emails
from adapters.sql.notifications.tables import deliveries
from adapters.sql.workflows.tables import outbox
from core.identity import WorkspaceRole
from core.kernel import FixedClock, TenantContext
from entrypoints.containers import ApplicationContainer, build_container, close_container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from entrypoints.testing.people import PASSWORD, Person, join, person, workspace_of
from entrypoints.testing.plugin import serve_in_process, settings_with
from entrypoints.testing.workflows import run_jobs

BASE = "https://ninefold.dev/problems/"
DAY = timedelta(days=1)
INVITATION = re.compile(r"/invitations/(nf_inv_[A-Za-z0-9_\-]+)")


@pytest.fixture
async def ada(client: httpx.AsyncClient, container: ApplicationContainer) -> Person:
    return await person(client, container, "ada")


def api(workspace: str, path: str) -> str:
    return f"/api/v1/workspaces/{workspace}/{path}"


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def problem(response: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["type"] == BASE + kind, body
    return body


async def checkout(
    client: httpx.AsyncClient, who: Person, workspace: str, **body: Any
) -> httpx.Response:
    key = body.pop("idempotency_key", None)
    headers = {**who.headers, **({"Idempotency-Key": key} if key else {})}
    return await client.post(api(workspace, "billing/checkout"), json=body, headers=headers)


async def pay(client: httpx.AsyncClient, url: str) -> None:
    """The customer pays on the sandbox's checkout page."""
    paid = await client.post(f"{urlsplit(url).path}/pay", follow_redirects=False)
    assert paid.status_code == 303, paid.text


async def settle(container: ApplicationContainer) -> None:
    """The sandbox's webhooks delivered, and the jobs they queued run."""
    await container.billing.payment_provider().settle()
    await run_jobs(container)


async def pass_time(container: ApplicationContainer, clock: FixedClock, delta: timedelta) -> None:
    clock.advance(delta)
    await container.billing.payment_provider().tick()
    await settle(container)


async def billing_state(client: httpx.AsyncClient, who: Person, workspace: str) -> Any:
    return ok(await client.get(api(workspace, "billing/subscription"), headers=who.headers))


async def subscribe(
    client: httpx.AsyncClient,
    container: ApplicationContainer,
    who: Person,
    workspace: str,
    plan: str = "pro",
    **body: Any,
) -> dict[str, Any]:
    """A paid subscription to ``plan`` (no trial unless asked); the subscription."""
    body.setdefault("trial", False)
    started = ok(await checkout(client, who, workspace, plan=plan, **body))
    await pay(client, started["url"])
    await settle(container)
    sub: dict[str, Any] = (await billing_state(client, who, workspace))["subscription"]
    assert sub is not None
    assert sub["plan"] == plan, sub
    return sub


async def signed_in_again(client: httpx.AsyncClient, who: Person) -> Person:
    """A new bearer session, for after the clock moved past a session's lifetime."""
    token = ok(
        await client.post(
            "/api/v1/auth/sign-in",
            json={"email": who.email, "password": PASSWORD, "transport": "bearer"},
        )
    )["token"]
    return Person(who.user_id, who.email, token)


async def entitlements(client: httpx.AsyncClient, who: Person, workspace: str) -> Any:
    return ok(await client.get(api(workspace, "entitlements"), headers=who.headers))


async def credits(client: httpx.AsyncClient, who: Person, workspace: str) -> Any:
    return ok(await client.get(api(workspace, "credits"), headers=who.headers))


async def published(container: ApplicationContainer, name: str, workspace: str) -> list[Any]:
    """The payloads of the events ``name`` the workspace raised (the outbox)."""
    async with container.unit_of_work() as uow:
        rows = await uow.session.execute(
            select(outbox.c.payload)
            .where(outbox.c.name == name, outbox.c.workspace_id == workspace)
            .order_by(outbox.c.occurred_at, outbox.c.id)
        )
        return [msgspec.json.decode(row.payload) for row in rows]


async def new_key(
    client: httpx.AsyncClient, owner: Person, workspace: str, *permissions: str
) -> dict[str, str]:
    created = ok(
        await client.post(
            api(workspace, "api-keys"),
            json={"name": "backend", "permissions": list(permissions)},
            headers=owner.headers,
        ),
        201,
    )
    return bearer(created["secret"])


async def invitation_token(container: ApplicationContainer, address: str) -> str:
    async with container.unit_of_work() as uow:
        (latest, *_) = await list_emails(uow.session, limit=1, to=address)
    found = INVITATION.search(latest.message.text)
    assert found, "the invitation email carries the accept link"
    return found.group(1)


# --- checkout ------------------------------------------------------------------------------


async def test_a_workspace_that_never_subscribed_is_on_the_free_plan(
    client: httpx.AsyncClient, ada: Person
) -> None:
    ws = await workspace_of(client, ada)

    state = await billing_state(client, ada, ws)

    assert state["subscription"] is None
    assert state["access"] == {
        "plan": "free",
        "state": "fallback",
        "reason": "no_subscription",
        "until": None,
    }
    found = await entitlements(client, ada, ws)
    assert found["plan"] == "free"
    assert found["limits"] == {"seats": 3, "projects": 3}
    assert {m["meter"] for m in found["meters"]} == {"api_calls", "storage_gb"}


async def test_a_subscription_checkout_answers_the_sandbox_page_and_payment_subscribes(
    client: httpx.AsyncClient, container: ApplicationContainer, ada: Person
) -> None:
    ws = await workspace_of(client, ada)

    started = ok(await checkout(client, ada, ws, plan="pro", interval="month", trial=False))

    public = container.settings().effective_public_url.rstrip("/")
    assert started["url"] == f"{public}/billing/sandbox/checkout/{started['id']}"
    assert started["expires_at"] is not None
    page = await client.get(urlsplit(started["url"]).path)
    assert page.status_code == 200
    assert "Pro" in page.text
    assert (await billing_state(client, ada, ws))["subscription"] is None, "not paid yet"

    await pay(client, started["url"])
    await settle(container)

    state = await billing_state(client, ada, ws)
    sub = state["subscription"]
    assert (sub["plan"], sub["interval"], sub["currency"], sub["status"]) == (
        "pro",
        "month",
        "USD",
        "active",
    )
    assert sub["seats"] == 3  # the price includes three
    assert sub["provider"] == "sandbox"
    assert sub["cancel_at_period_end"] is False
    assert sub["trial_end"] is None
    assert state["access"] == {"plan": "pro", "state": "full", "reason": "active", "until": None}
    assert (await entitlements(client, ada, ws))["plan"] == "pro"
    assert len(await published(container, "billing.subscription_created", ws)) == 1


async def test_a_yearly_subscription_in_euros_for_more_seats_than_included(
    client: httpx.AsyncClient, container: ApplicationContainer, ada: Person
) -> None:
    ws = await workspace_of(client, ada)
    await run_jobs(container)  # the owner's membership is counted before the checkout

    sub = await subscribe(
        client, container, ada, ws, "pro", interval="year", currency="eur", seats=5
    )

    assert (sub["interval"], sub["currency"], sub["seats"]) == ("year", "EUR", 5)
    assert sub["current_period_end"].startswith("2031-01-01")
    (invoice,) = ok(await client.get(api(ws, "invoices"), headers=ada.headers))["invoices"]
    assert (invoice["currency"], invoice["total"], invoice["status"]) == ("EUR", 70_000, "paid")


async def test_a_paid_credit_pack_grants_its_credits_once(
    client: httpx.AsyncClient, container: ApplicationContainer, ada: Person
) -> None:
    ws = await workspace_of(client, ada)
    before = (await credits(client, ada, ws))["available"]

    started = ok(await checkout(client, ada, ws, product="credits-5000", quantity=2))
    assert urlsplit(started["url"]).path == f"/billing/sandbox/checkout/{started['id']}"
    await pay(client, started["url"])
    await settle(container)
    await settle(container)  # nothing left to deliver or apply: nothing changes

    after = await credits(client, ada, ws)
    assert before == 100  # the free plan's monthly credits
    assert after["available"] == before + 10_000
    purchases = [g for g in after["grants"] if g["source"] == "purchase"]
    assert [(g["amount"], g["remaining"]) for g in purchases] == [(10_000, 10_000)]
    (bought,) = await published(container, "billing.credits_purchased", ws)
    assert (bought["product"], bought["quantity"], bought["credits"]) == ("credits-5000", 2, 10_000)
    assert (bought["amount"], bought["currency"]) == (2_000, "USD")
    assert bought["grant_id"] == purchases[0]["id"]
    assert (await billing_state(client, ada, ws))["subscription"] is None, "a pack is no plan"


async def test_a_checkout_names_a_plan_or_a_product_and_only_what_the_catalog_sells(
    client: httpx.AsyncClient, ada: Person
) -> None:
    ws = await workspace_of(client, ada)

    both = await checkout(client, ada, ws, plan="pro", product="credits-5000")
    neither = await checkout(client, ada, ws)
    free = await checkout(client, ada, ws, plan="free")
    unknown_plan = await checkout(client, ada, ws, plan="platinum")
    unknown_product = await checkout(client, ada, ws, product="gold-bars")
    unknown_currency = await checkout(client, ada, ws, plan="pro", currency="JPY")
    pack_currency = await checkout(client, ada, ws, product="credits-5000", currency="GBP")
    unknown_interval = await checkout(client, ada, ws, plan="pro", interval="week")
    no_seats = await checkout(client, ada, ws, plan="pro", seats=0)
    too_many_packs = await checkout(client, ada, ws, product="credits-5000", quantity=101)

    problem(both, 422, "billing/invalid-subscription-change")
    problem(neither, 422, "billing/invalid-subscription-change")
    problem(free, 422, "billing/invalid-subscription-change")
    assert problem(unknown_plan, 404, "billing/unknown-plan")["plan"] == "platinum"
    problem(unknown_product, 404, "billing/unknown-product")
    problem(unknown_currency, 422, "billing/unknown-price")
    problem(pack_currency, 422, "billing/unknown-price")
    for invalid in (unknown_interval, no_seats, too_many_packs):
        problem(invalid, 400, "invalid-request")
    assert (await billing_state(client, ada, ws))["subscription"] is None


async def test_return_urls_must_be_the_apps_own(
    client: httpx.AsyncClient, container: ApplicationContainer, ada: Person
) -> None:
    ws = await workspace_of(client, ada)
    public = container.settings().effective_public_url.rstrip("/")

    foreign = await checkout(
        client, ada, ws, plan="pro", success_url="https://evil.example/billing?done"
    )
    foreign_cancel = await checkout(
        client, ada, ws, plan="pro", cancel_url="https://evil.example/billing"
    )
    scheme = await checkout(client, ada, ws, plan="pro", success_url="javascript:alert(1)//x")
    portal = await client.post(
        api(ws, "billing/portal"),
        json={"return_url": "https://evil.example/back"},
        headers=ada.headers,
    )
    own = await checkout(client, ada, ws, plan="pro", success_url=f"{public}/thanks?x=1")

    assert problem(foreign, 422, "billing/invalid-return-url")["url"] == (
        "https://evil.example/billing?done"
    )
    problem(foreign_cancel, 422, "billing/invalid-return-url")
    problem(scheme, 422, "billing/invalid-return-url")
    problem(portal, 422, "billing/invalid-return-url")
    assert own.status_code == 200, own.text


async def test_return_urls_may_be_on_an_allowed_cors_origin(settings: Settings) -> None:
    container = build_container(settings_with(settings, cors_origins=["https://app.example"]))
    try:
        async with serve_in_process(create_app(container, run_worker=False)) as client:
            ada = await person(client, container, "ada")
            ws = await workspace_of(client, ada)
            answers = {
                url: await checkout(client, ada, ws, plan="pro", success_url=url)
                for url in (
                    "https://app.example/billing?done",
                    "https://app.example.evil.example/billing",
                    "https://app.example@evil.example/billing",
                    "http://app.example/billing",
                )
            }
    finally:
        await close_container(container)

    statuses = {url: response.status_code for url, response in answers.items()}
    assert statuses == {
        "https://app.example/billing?done": 200,
        "https://app.example.evil.example/billing": 422,
        "https://app.example@evil.example/billing": 422,
        "http://app.example/billing": 422,
    }


async def test_a_second_checkout_while_subscribed_is_a_conflict(
    client: httpx.AsyncClient, container: ApplicationContainer, ada: Person
) -> None:
    ws = await workspace_of(client, ada)
    sub = await subscribe(client, container, ada, ws)

    again = await checkout(client, ada, ws, plan="business")

    assert problem(again, 409, "billing/subscription-exists")["subscription_id"] == sub["id"]
    pack = await checkout(client, ada, ws, product="credits-5000")
    assert pack.status_code == 200, "credit packs are bought whatever the plan"


async def test_the_same_idempotency_key_gives_the_same_checkout(
    client: httpx.AsyncClient, container: ApplicationContainer, ada: Person
) -> None:
    ws = await workspace_of(client, ada)

    first = ok(await checkout(client, ada, ws, plan="pro", idempotency_key="click-1"))
    retried = ok(await checkout(client, ada, ws, plan="pro", idempotency_key="click-1"))
    other = ok(await checkout(client, ada, ws, plan="pro", idempotency_key="click-2"))
    unkeyed = ok(await checkout(client, ada, ws, plan="pro"))
    reused = ok(await checkout(client, ada, ws, plan="business", idempotency_key="click-1"))

    assert retried["id"] == first["id"]
    assert retried["url"] == first["url"]
    assert other["id"] != first["id"]
    assert unkeyed["id"] not in {first["id"], other["id"]}
    assert reused["id"] not in {first["id"], other["id"], unkeyed["id"]}
    provider = container.billing.payment_provider()
    shown = [await provider.checkout_view(c["id"]) for c in (first, reused)]
    assert [v.product_name if v else None for v in shown] == ["Pro", "Business"]


async def test_who_may_read_and_change_billing(
    client: httpx.AsyncClient, container: ApplicationContainer, ada: Person
) -> None:
    ws = await workspace_of(client, ada)
    member, viewer, biller = (
        await person(client, container, "mel"),
        await person(client, container, "vic"),
        await person(client, container, "bill"),
    )
    await join(container, ws, member, WorkspaceRole.MEMBER)
    await join(container, ws, viewer, WorkspaceRole.VIEWER)
    await join(container, ws, biller, WorkspaceRole.BILLING)

    for who in (member, viewer):
        refused = await checkout(client, who, ws, plan="pro")
        assert problem(refused, 403, "permission-denied")["permission"] == "billing:manage"
        for path, body in (
            ("billing/portal", {}),
            ("billing/subscription/change", {"plan": "business"}),
            ("billing/subscription/cancel", {}),
            ("billing/subscription/resume", None),
        ):
            response = await client.post(api(ws, path), json=body, headers=who.headers)
            assert response.status_code == 403, (path, response.text)
        assert (await entitlements(client, who, ws))["plan"] == "free"
    assert (await billing_state(client, member, ws))["subscription"] is None
    assert ok(await client.get(api(ws, "invoices"), headers=member.headers))["invoices"] == []
    for path in ("billing/subscription", "credits", "credits/transactions", "invoices", "usage"):
        refused = await client.get(api(ws, path), headers=viewer.headers)
        assert problem(refused, 403, "permission-denied")["permission"] == "billing:read", path
    assert ok(await checkout(client, biller, ws, plan="pro"))["url"]


# --- trials --------------------------------------------------------------------------------


async def test_a_first_subscription_starts_with_the_trial_then_is_charged(
    client: httpx.AsyncClient, container: ApplicationContainer, clock: FixedClock, ada: Person
) -> None:
    ws = await workspace_of(client, ada)
    started = ok(await checkout(client, ada, ws, plan="pro"))
    await pay(client, started["url"])
    await settle(container)

    trialing = await billing_state(client, ada, ws)
    assert trialing["subscription"]["status"] == "trialing"
    assert trialing["subscription"]["trial_end"] is not None
    assert trialing["access"]["state"] == "full"
    assert trialing["access"]["reason"] == "trialing"
    assert "webhooks" in (await entitlements(client, ada, ws))["features"]
    trial_invoices = ok(await client.get(api(ws, "invoices"), headers=ada.headers))["invoices"]
    assert all(i["total"] == 0 for i in trial_invoices)

    await pass_time(container, clock, 15 * DAY)
    ada = await signed_in_again(client, ada)

    after = await billing_state(client, ada, ws)
    assert after["subscription"]["id"] == trialing["subscription"]["id"]
    assert after["subscription"]["status"] == "active"
    assert after["access"] == {"plan": "pro", "state": "full", "reason": "active", "until": None}
    invoices = ok(await client.get(api(ws, "invoices"), headers=ada.headers))["invoices"]
    charged = [i for i in invoices if i["total"] > 0]
    assert [(i["status"], i["total"]) for i in charged] == [("paid", 4_500)]


# --- changing plan -------------------------------------------------------------------------


async def test_an_upgrade_applies_at_once_with_prorated_credits(
    client: httpx.AsyncClient, container: ApplicationContainer, clock: FixedClock, ada: Person
) -> None:
    ws = await workspace_of(client, ada)
    sub = await subscribe(client, container, ada, ws, "pro")
    assert (await credits(client, ada, ws))["available"] == 1_000
    clock.advance(15 * DAY)
    ada = await signed_in_again(client, ada)

    changed = ok(
        await client.post(
            api(ws, "billing/subscription/change"),
            json={"plan": "business"},
            headers={**ada.headers, "Idempotency-Key": "up-1"},
        )
    )
    await settle(container)

    assert changed["id"] == sub["id"]
    assert changed["plan"] == "business"
    assert changed["pending_plan"] is None
    assert changed["status"] == "active"
    assert changed["seats"] == 10  # business includes ten
    state = await billing_state(client, ada, ws)
    assert state["subscription"]["plan"] == "business"
    assert state["access"]["plan"] == "business"
    found = await entitlements(client, ada, ws)
    assert found["plan"] == "business"
    assert "sso" in found["features"]
    # Half the period is left: about half of business's 10,000 more, not all of them.
    available = (await credits(client, ada, ws))["available"]
    assert 1_000 + 3_000 < available < 1_000 + 10_000, available
    assert (await credits(client, ada, ws))["available"] == available, "granted once"
    assert len(await published(container, "billing.subscription_plan_changed", ws)) == 1


async def test_a_downgrade_waits_for_the_period_to_end(
    client: httpx.AsyncClient, container: ApplicationContainer, clock: FixedClock, ada: Person
) -> None:
    ws = await workspace_of(client, ada)
    sub = await subscribe(client, container, ada, ws, "business")

    changed = ok(
        await client.post(
            api(ws, "billing/subscription/change"), json={"plan": "pro"}, headers=ada.headers
        )
    )
    await settle(container)

    assert (changed["plan"], changed["pending_plan"]) == ("business", "pro")
    assert changed["pending_interval"] == "month"
    assert (await entitlements(client, ada, ws))["plan"] == "business"
    period_end = changed["current_period_end"]

    await pass_time(container, clock, 31 * DAY)
    ada = await signed_in_again(client, ada)

    state = await billing_state(client, ada, ws)
    assert state["subscription"]["id"] == sub["id"]
    assert state["subscription"]["plan"] == "pro"
    assert state["subscription"]["pending_plan"] is None
    assert state["subscription"]["status"] == "active"
    assert state["subscription"]["current_period_start"] == period_end
    assert (await entitlements(client, ada, ws))["plan"] == "pro"
    # Pro's 1,000 for the new period, and business's unused credits rolled over up to
    # pro's cap of 2,000 (the rest expired).
    after = await credits(client, ada, ws)
    assert after["available"] == 1_000 + 2_000
    assert sorted((g["source"], g["amount"], g["remaining"]) for g in after["grants"]) == [
        ("plan_allocation", 1_000, 1_000),
        ("plan_allocation", 10_000, 0),
        ("rollover", 2_000, 2_000),
    ]


async def test_changes_that_cannot_be_made(
    client: httpx.AsyncClient, container: ApplicationContainer, ada: Person
) -> None:
    ws = await workspace_of(client, ada)
    change = api(ws, "billing/subscription/change")

    without = await client.post(change, json={"plan": "pro"}, headers=ada.headers)
    cancel_without = await client.post(
        api(ws, "billing/subscription/cancel"), json={}, headers=ada.headers
    )
    resume_without = await client.post(api(ws, "billing/subscription/resume"), headers=ada.headers)
    problem(without, 404, "billing/no-subscription")
    problem(cancel_without, 404, "billing/no-subscription")
    problem(resume_without, 404, "billing/no-subscription")

    await subscribe(client, container, ada, ws, "pro")
    to_free = await client.post(change, json={"plan": "free"}, headers=ada.headers)
    to_unknown = await client.post(change, json={"plan": "platinum"}, headers=ada.headers)
    bad_interval = await client.post(
        change, json={"plan": "business", "interval": "week"}, headers=ada.headers
    )

    problem(to_free, 422, "billing/invalid-subscription-change")
    problem(to_unknown, 404, "billing/unknown-plan")
    problem(bad_interval, 400, "invalid-request")
    assert (await billing_state(client, ada, ws))["subscription"]["plan"] == "pro"


# --- cancelling ----------------------------------------------------------------------------


async def test_cancel_at_the_period_end_and_resume(
    client: httpx.AsyncClient, container: ApplicationContainer, ada: Person
) -> None:
    ws = await workspace_of(client, ada)
    await subscribe(client, container, ada, ws)

    canceled = ok(
        await client.post(api(ws, "billing/subscription/cancel"), json={}, headers=ada.headers)
    )
    await settle(container)
    assert canceled["cancel_at_period_end"] is True
    assert canceled["status"] == "active"
    assert (await billing_state(client, ada, ws))["access"]["state"] == "full"
    twice = await client.post(api(ws, "billing/subscription/cancel"), json={}, headers=ada.headers)
    problem(twice, 409, "billing/invalid-subscription-transition")

    resumed = ok(await client.post(api(ws, "billing/subscription/resume"), headers=ada.headers))
    await settle(container)
    again = await client.post(api(ws, "billing/subscription/resume"), headers=ada.headers)

    assert resumed["cancel_at_period_end"] is False
    assert resumed["status"] == "active"
    problem(again, 409, "billing/invalid-subscription-transition")
    assert (await billing_state(client, ada, ws))["subscription"]["cancel_at_period_end"] is False


async def test_an_idempotency_key_reused_for_another_change_is_not_a_retry(
    client: httpx.AsyncClient, container: ApplicationContainer, ada: Person
) -> None:
    ws = await workspace_of(client, ada)
    await subscribe(client, container, ada, ws)
    keyed = {**ada.headers, "Idempotency-Key": "same-key"}
    cancel, change = api(ws, "billing/subscription/cancel"), api(ws, "billing/subscription/change")

    scheduled = ok(await client.post(cancel, json={"at_period_end": True}, headers=keyed))
    yearly = ok(await client.post(change, json={"plan": "pro", "interval": "year"}, headers=keyed))
    resumed = ok(await client.post(api(ws, "billing/subscription/resume"), headers=ada.headers))
    now = ok(await client.post(cancel, json={"at_period_end": False}, headers=keyed))
    await settle(container)

    assert scheduled["cancel_at_period_end"] is True
    assert yearly["interval"] == "year"
    assert resumed["cancel_at_period_end"] is False
    assert now["status"] == "canceled"
    assert (await billing_state(client, ada, ws))["subscription"]["status"] == "canceled"


async def test_a_scheduled_cancellation_ends_the_plan_with_the_period(
    client: httpx.AsyncClient, container: ApplicationContainer, clock: FixedClock, ada: Person
) -> None:
    ws = await workspace_of(client, ada)
    sub = await subscribe(client, container, ada, ws)
    ok(
        await client.post(
            api(ws, "billing/subscription/cancel"),
            json={"at_period_end": True},
            headers=ada.headers,
        )
    )
    await settle(container)

    await pass_time(container, clock, 31 * DAY)
    ada = await signed_in_again(client, ada)

    state = await billing_state(client, ada, ws)
    assert state["subscription"]["id"] == sub["id"]
    assert state["subscription"]["status"] == "canceled"
    assert state["subscription"]["ended_at"] is not None
    assert state["access"] == {
        "plan": "free",
        "state": "fallback",
        "reason": "canceled",
        "until": None,
    }
    found = await entitlements(client, ada, ws)
    assert found["plan"] == "free"
    assert "webhooks" not in found["features"]
    assert ok(await checkout(client, ada, ws, plan="pro"))["url"], "subscribing again is allowed"


async def test_cancel_now_ends_the_subscription_at_once(
    client: httpx.AsyncClient, container: ApplicationContainer, ada: Person
) -> None:
    ws = await workspace_of(client, ada)
    await subscribe(client, container, ada, ws)

    canceled = ok(
        await client.post(
            api(ws, "billing/subscription/cancel"),
            json={"at_period_end": False},
            headers=ada.headers,
        )
    )
    await settle(container)

    assert canceled["status"] == "canceled"
    assert canceled["canceled_at"] is not None
    state = await billing_state(client, ada, ws)
    assert state["subscription"]["status"] == "canceled"
    assert state["access"]["plan"] == "free"
    assert (await entitlements(client, ada, ws))["plan"] == "free"
    after = await client.post(api(ws, "billing/subscription/cancel"), json={}, headers=ada.headers)
    problem(after, 404, "billing/no-subscription")

    # Subscribing again is allowed, without a second trial.
    again = ok(await checkout(client, ada, ws, plan="pro"))
    await pay(client, again["url"])
    await settle(container)
    renewed = (await billing_state(client, ada, ws))["subscription"]
    assert renewed["id"] != canceled["id"]
    assert (renewed["status"], renewed["trial_end"]) == ("active", None)


async def test_the_portal_answers_a_link(
    client: httpx.AsyncClient, container: ApplicationContainer, ada: Person
) -> None:
    ws = await workspace_of(client, ada)

    portal = ok(await client.post(api(ws, "billing/portal"), json={}, headers=ada.headers))

    assert portal["url"].startswith(container.settings().effective_public_url.rstrip("/"))
    shown = await client.get(urlsplit(portal["url"]).path)
    assert shown.status_code == 200, shown.text
    assert "Billing portal" in shown.text


# --- usage ---------------------------------------------------------------------------------


async def test_usage_is_reported_with_a_key_that_may_and_counted_once(
    client: httpx.AsyncClient, container: ApplicationContainer, ada: Person
) -> None:
    ws = await workspace_of(client, ada)
    writer = await new_key(client, ada, ws, "usage:write")
    reader = await new_key(client, ada, ws, "billing:read")
    event = {"id": "call-1", "meter": "api_calls"}

    first = ok(await client.post(api(ws, "usage"), json=event, headers=writer))
    again = ok(await client.post(api(ws, "usage"), json=event, headers=writer))
    refused = await client.post(api(ws, "usage"), json={**event, "id": "x"}, headers=reader)

    assert first == {"id": "call-1", "status": "accepted"}
    assert again == {"id": "call-1", "status": "duplicate"}
    assert problem(refused, 403, "permission-denied")["permission"] == "usage:write"
    aggregates = ok(await client.get(api(ws, "usage"), headers=reader))
    calls = next(a for a in aggregates if a["meter"] == "api_calls")
    assert (calls["value"], calls["events"]) == (1, 1)


async def test_an_invalid_or_late_event_is_refused_with_its_reason(
    client: httpx.AsyncClient, container: ApplicationContainer, clock: FixedClock, ada: Person
) -> None:
    ws = await workspace_of(client, ada)
    writer = await new_key(client, ada, ws, "usage:write")
    late = (clock.now() - timedelta(hours=25)).isoformat()
    future = (clock.now() + timedelta(hours=1)).isoformat()

    unknown = await client.post(api(ws, "usage"), json={"id": "a", "meter": "x"}, headers=writer)
    too_late = await client.post(
        api(ws, "usage"), json={"id": "b", "meter": "api_calls", "timestamp": late}, headers=writer
    )
    too_early = await client.post(
        api(ws, "usage"),
        json={"id": "c", "meter": "api_calls", "timestamp": future},
        headers=writer,
    )
    negative = await client.post(
        api(ws, "usage"), json={"id": "d", "meter": "api_calls", "quantity": -1}, headers=writer
    )
    no_property = await client.post(
        api(ws, "usage"), json={"id": "e", "meter": "storage_gb"}, headers=writer
    )

    body = problem(unknown, 422, "billing/invalid-usage-event")
    assert (body["reason"], body["event_id"]) == ("unknown_meter", "a")
    assert problem(too_late, 422, "billing/invalid-usage-event")["reason"] == "too_late"
    assert problem(too_early, 422, "billing/invalid-usage-event")["reason"] == "in_future"
    assert problem(negative, 422, "billing/invalid-usage-event")["reason"] == "invalid_quantity"
    assert problem(no_property, 422, "billing/invalid-usage-event")["reason"] == (
        "missing_property"
    )
    aggregates = ok(await client.get(api(ws, "usage"), headers=ada.headers))
    assert all(a["events"] == 0 for a in aggregates)


async def test_a_batch_answers_each_event_in_order(
    client: httpx.AsyncClient, container: ApplicationContainer, clock: FixedClock, ada: Person
) -> None:
    ws = await workspace_of(client, ada)
    writer = await new_key(client, ada, ws, "usage:write")
    clock.advance(DAY)  # an hour or two ago is in this month's period
    two_hours_ago = (clock.now() - timedelta(hours=2)).isoformat()
    older = {"id": "old", "meter": "api_calls", "timestamp": two_hours_ago}
    ok(await client.post(api(ws, "usage"), json=older, headers=writer))
    late = (clock.now() - timedelta(hours=25)).isoformat()
    events = [
        {"id": "n-1", "meter": "api_calls"},
        {"id": "old", "meter": "api_calls"},
        {"id": "n-2", "meter": "nope"},
        {"id": "n-3", "meter": "api_calls", "timestamp": late},
        {"id": "n-1", "meter": "api_calls"},
        {"id": "gb-1", "meter": "storage_gb", "properties": {"gb": 0.5}},
    ]

    answer = ok(await client.post(api(ws, "usage/batch"), json={"events": events}, headers=writer))

    assert [(r["id"], r["status"], r.get("reason")) for r in answer["results"]] == [
        ("n-1", "accepted", None),
        ("old", "duplicate", None),
        ("n-2", "rejected", "unknown_meter"),
        ("n-3", "rejected", "too_late"),
        ("n-1", "duplicate", None),
        ("gb-1", "accepted", None),
    ]
    assert (answer["accepted"], answer["duplicates"], answer["rejected"]) == (2, 2, 2)
    found = {a["meter"]: a for a in ok(await client.get(api(ws, "usage"), headers=ada.headers))}
    assert (found["api_calls"]["value"], found["api_calls"]["events"]) == (2, 2)
    assert found["storage_gb"]["value"] == 0.5
    limits = await entitlements(client, ada, ws)
    meter = next(m for m in limits["meters"] if m["meter"] == "api_calls")
    assert found["api_calls"]["period_start"] == meter["period_start"]
    assert found["api_calls"]["period_end"] == meter["period_end"]
    assert meter["used"] == 2
    one = ok(await client.get(api(ws, "usage"), params={"meter": "api_calls"}, headers=ada.headers))
    assert [a["meter"] for a in one] == ["api_calls"]
    start, end = meter["period_start"], meter["period_end"]
    an_hour_ago = (clock.now() - timedelta(hours=1)).isoformat()
    earlier = ok(
        await client.get(
            api(ws, "usage"),
            params={"from": start, "to": an_hour_ago, "meter": "api_calls"},
            headers=ada.headers,
        )
    )
    assert [(a["value"], a["events"]) for a in earlier] == [(1, 1)], "the older event only"
    reversed_period = await client.get(
        api(ws, "usage"), params={"from": end, "to": start}, headers=ada.headers
    )
    problem(reversed_period, 422, "billing/invalid-usage-period")
    no_meter = await client.get(api(ws, "usage"), params={"meter": "nope"}, headers=ada.headers)
    problem(no_meter, 404, "billing/unknown-meter")


async def test_a_batch_of_more_than_a_thousand_is_refused_whole(
    client: httpx.AsyncClient, ada: Person
) -> None:
    ws = await workspace_of(client, ada)
    events = [{"id": f"e-{i}", "meter": "api_calls"} for i in range(1_001)]

    refused = await client.post(
        api(ws, "usage/batch"), json={"events": events}, headers=ada.headers
    )

    body = problem(refused, 413, "billing/usage-batch-too-large")
    assert (body["size"], body["limit"]) == (1_001, 1_000)
    aggregates = ok(await client.get(api(ws, "usage"), headers=ada.headers))
    assert all(a["events"] == 0 for a in aggregates)


async def test_reaching_80_and_100_percent_of_a_limit_alerts_once_each(
    client: httpx.AsyncClient, container: ApplicationContainer, clock: FixedClock, ada: Person
) -> None:
    ws = await workspace_of(client, ada)
    writer = await new_key(client, ada, ws, "usage:write")
    usage, batch = api(ws, "usage"), api(ws, "usage/batch")

    def reading(n: int, gb: float) -> dict[str, Any]:
        return {"id": f"gb-{n}", "meter": "storage_gb", "properties": {"gb": gb}}

    # storage_gb: the free plan's hard limit is 1 GB.
    ok(await client.post(usage, json=reading(1, 0.5), headers=writer))
    assert await published(container, "billing.usage_threshold_reached", ws) == []
    ok(await client.post(usage, json=reading(2, 0.8), headers=writer))
    ok(await client.post(usage, json=reading(3, 0.9), headers=writer))
    ok(await client.post(usage, json=reading(4, 1), headers=writer))
    ok(await client.post(usage, json=reading(5, 1), headers=writer))
    over = await client.post(usage, json=reading(6, 1.5), headers=writer)
    problem(over, 409, "billing/usage-limit-exceeded")
    # api_calls: a soft limit of 1,000 calls, reached through batches.
    calls = [{"id": f"call-{i}", "meter": "api_calls"} for i in range(1_000)]
    ok(await client.post(batch, json={"events": calls[:799]}, headers=writer))
    ok(await client.post(batch, json={"events": calls[799:900]}, headers=writer))
    crossed = ok(await client.post(batch, json={"events": calls[900:]}, headers=writer))
    ok(
        await client.post(
            batch, json={"events": [{"id": "more", "meter": "api_calls"}]}, headers=writer
        )
    )

    assert crossed["results"][-1]["soft_limit_crossed"] is True
    raised = await published(container, "billing.usage_threshold_reached", ws)
    assert [(e["meter"], e["percent"], e["limit"], e["hard"]) for e in raised] == [
        ("storage_gb", 80, 1, True),
        ("storage_gb", 100, 1, True),
        ("api_calls", 80, 1_000, False),
        ("api_calls", 100, 1_000, False),
    ]

    await run_jobs(container)
    async with container.unit_of_work() as uow:
        rows = (
            await uow.session.execute(
                select(deliveries.c.user_id, deliveries.c.channel).where(
                    deliveries.c.notification_type == "billing.usage_threshold"
                )
            )
        ).all()
    emails = [row for row in rows if row.channel == "email"]
    assert len(emails) == 4
    assert {row.user_id for row in rows} == {ada.user_id}

    # The next period starts afresh: its thresholds are announced again, once.
    clock.advance(32 * DAY)
    ok(await client.post(usage, json=reading(7, 0.85), headers=writer))
    ok(await client.post(usage, json=reading(8, 0.95), headers=writer))
    raised = await published(container, "billing.usage_threshold_reached", ws)
    assert [(e["meter"], e["percent"]) for e in raised[4:]] == [("storage_gb", 80)]
    assert raised[4]["period_start"] > raised[0]["period_start"]


# --- credits -------------------------------------------------------------------------------


async def test_the_free_plan_allocates_its_monthly_credits_once(
    client: httpx.AsyncClient, container: ApplicationContainer, clock: FixedClock, ada: Person
) -> None:
    ws = await workspace_of(client, ada)

    first = await credits(client, ada, ws)
    second = await credits(client, ada, ws)

    assert (first["available"], first["overdraft"], first["balance"]) == (100, 0, 100)
    assert second == first
    (grant,) = first["grants"]
    assert (grant["amount"], grant["remaining"]) == (100, 100)
    assert grant["expires_at"] is not None
    listed = ok(await client.get(api(ws, "credits/transactions"), headers=ada.headers))
    assert [t["amount"] for t in listed["transactions"]] == [100]

    clock.advance(32 * DAY)  # the next month: its own allocation (the last one expired)
    ada = await signed_in_again(client, ada)
    later = await credits(client, ada, ws)
    assert len(later["grants"]) == 2
    assert (await credits(client, ada, ws))["grants"] == later["grants"]


async def test_credit_transactions_page_newest_first(
    client: httpx.AsyncClient, container: ApplicationContainer, clock: FixedClock, ada: Person
) -> None:
    ws = await workspace_of(client, ada)
    await credits(client, ada, ws)  # the free allocation: one transaction
    for n in range(4):
        clock.advance(timedelta(minutes=1))
        async with container.unit_of_work() as uow:
            await container.billing.service(uow=uow).consume_credits(
                TenantContext(ws), n + 1, key=f"spend-{n}"
            )
            await uow.commit()

    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = ok(
            await client.get(api(ws, "credits/transactions"), params=params, headers=ada.headers)
        )
        pages += 1
        assert len(page["transactions"]) <= 2
        seen += page["transactions"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert pages < 5

    assert pages == 3
    assert len({t["id"] for t in seen}) == 5
    assert [t["amount"] for t in seen] == [4, 3, 2, 1, 100]
    assert [t["kind"] for t in seen][-1] != seen[0]["kind"]
    times = [t["occurred_at"] for t in seen]
    assert times == sorted(times, reverse=True)
    assert all(t["entries"] for t in seen)
    assert (await credits(client, ada, ws))["available"] == 100 - 10


# --- invoices ------------------------------------------------------------------------------


async def test_a_paid_checkout_lists_its_invoice_and_invoices_page(
    client: httpx.AsyncClient, container: ApplicationContainer, clock: FixedClock, ada: Person
) -> None:
    ws = await workspace_of(client, ada)
    provider = container.billing.payment_provider()
    await subscribe(client, container, ada, ws)

    (invoice,) = ok(await client.get(api(ws, "invoices"), headers=ada.headers))["invoices"]
    assert invoice["status"] == "paid"
    assert invoice["number"]
    assert (invoice["total"], invoice["amount_paid"], invoice["amount_due"]) == (4_500, 4_500, 0)
    assert invoice["currency"] == "USD"
    assert invoice["hosted_url"] or invoice["pdf_url"]
    shown = await client.get(urlsplit(invoice["hosted_url"] or invoice["pdf_url"]).path)
    assert shown.status_code == 200, shown.text

    for _ in range(2):
        clock.advance(DAY)
        await provider.renew(ws)
    await settle(container)

    first = ok(await client.get(api(ws, "invoices"), params={"limit": 2}, headers=ada.headers))
    assert len(first["invoices"]) == 2
    assert first["next_cursor"] == first["invoices"][-1]["id"]
    rest = ok(
        await client.get(
            api(ws, "invoices"),
            params={"limit": 2, "cursor": first["next_cursor"]},
            headers=ada.headers,
        )
    )
    assert rest["next_cursor"] is None
    listed = first["invoices"] + rest["invoices"]
    assert len({i["id"] for i in listed}) == 3
    assert listed[-1]["id"] == invoice["id"], "newest first"
    issued = [i["issued_at"] for i in listed]
    assert issued == sorted(issued, reverse=True)
    assert len({i["number"] for i in listed}) == 3


# --- seats ---------------------------------------------------------------------------------


async def test_members_who_join_are_billed_as_seats(
    client: httpx.AsyncClient, container: ApplicationContainer, ada: Person
) -> None:
    ws = await workspace_of(client, ada)
    for name in ("bea", "cal"):
        await join(container, ws, await person(client, container, name), WorkspaceRole.MEMBER)
    sub = await subscribe(client, container, ada, ws, seats=3)
    assert sub["seats"] == 3
    provider = container.billing.payment_provider()

    for name in ("dan", "eve"):
        newcomer = await person(client, container, name)
        ok(
            await client.post(
                api(ws, "invitations"),
                json={"email": newcomer.email, "role": "member"},
                headers=ada.headers,
            ),
            201,
        )
        token = await invitation_token(container, newcomer.email)
        ok(await client.post(f"/api/v1/invitations/{token}/accept", headers=newcomer.headers))
    await run_jobs(container)
    await settle(container)

    state = await billing_state(client, ada, ws)
    assert state["subscription"]["seats"] == 5
    assert state["subscription"]["id"] == sub["id"]
    view = await provider.customer_view(ws)
    assert view is not None
    assert [s.quantity for s in view.subscriptions] == [5]
    assert len(await published(container, "billing.seats_changed", ws)) == 1

    # Members who leave free their seats; never below the three the price includes.
    members = ok(await client.get(api(ws, "members"), headers=ada.headers))
    others = [m["user_id"] for m in members if m["user_id"] != ada.user_id]
    for user_id in others[:3]:
        removed = await client.delete(api(ws, f"members/{user_id}"), headers=ada.headers)
        assert removed.status_code == 204, removed.text
    await run_jobs(container)
    await settle(container)

    assert (await billing_state(client, ada, ws))["subscription"]["seats"] == 3
    view = await provider.customer_view(ws)
    assert view is not None
    assert [s.quantity for s in view.subscriptions] == [3]
