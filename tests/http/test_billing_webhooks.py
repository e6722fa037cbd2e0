"""``POST /webhooks/billing/{provider}`` for each payment provider (the sandbox, Stripe
and Dodo, the last two with their real SDKs against the local stand-ins): a bad, stale
or future signature is refused with 400 and leaves nothing behind; a delivery is stored
once under the provider's event id however often (and however concurrently) it comes,
and applied once by its job; an older view of a subscription delivered after a newer one
changes nothing; an unknown type is kept and ignored; another provider's route is 404;
an event whose price is not mapped fails visibly and is applied by a staff replay once
the prices are synced.

Every delivery is what the provider sends: the stand-ins (and the sandbox) make and
sign them when a checkout is paid; out-of-order views are those deliveries with their
object changed and their time moved, signed again with the provider's own scheme.

Deliveries about one subscription are applied one at a time here: Stripe's
``customer.subscription.created`` and ``.updated`` applied by concurrent jobs (the
first sight of a subscription, twice at once) make one of them fail for good; that is a
known bug, not what these tests are about.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, func, select

from adapters.sandbox import wire as sandbox_wire
from adapters.sql.billing.store_tables import invoices, provider_prices, subscriptions
from adapters.sql.billing.store_tables import webhook_events as webhook_rows
from adapters.sql.workflows.tables import jobs
from core.billing import CreditSource
from core.identity import StaffRole
from core.kernel import FixedClock, TenantContext
from entrypoints.billing.ingest import APPLY_WEBHOOK
from entrypoints.containers import ApplicationContainer
from entrypoints.containers.billing import sandbox_webhook_secret
from entrypoints.settings import Settings
from entrypoints.testing import dodo_standin
from entrypoints.testing.dodo_standin import DodoStandin
from entrypoints.testing.people import Person, person, workspace_of
from entrypoints.testing.plugin import settings_with
from entrypoints.testing.stripe_standin import (
    DEFAULT_WEBHOOK_SECRET as STRIPE_WEBHOOK_SECRET,
)
from entrypoints.testing.stripe_standin import StripeStandin, signature_header
from entrypoints.testing.workflows import run_jobs

# stripe 16.1's HTTPXClient posts its form body with httpx's deprecated ``data=<str>``.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")

PROVIDERS = ["sandbox", "stripe", "dodo"]
BASE = "https://ninefold.dev/problems/"
INVALID = BASE + "billing/invalid-webhook-signature"
STRIPE_KEY = "sk_test_ninefoldWebhookTests0123456789abcdef"
DODO_KEY = "dodo_webhook_tests_0123456789abcdef"
DODO_WEBHOOK_SECRET = dodo_standin.DEFAULT_WEBHOOK_SECRET
# A well-formed secret that is not the endpoint's (base64 of 32 bytes, after whsec_).
OTHER_SECRET = "whsec_b3RoZXItZW5kcG9pbnQtc2lnbmluZy1zZWNyZXQtMzI="
PACK = "credits-5000"
PACK_CREDITS = 5_000

Delivery = tuple[dict[str, str], bytes]


# -- the app on each provider ------------------------------------------------------------


@pytest.fixture(params=PROVIDERS)
def provider_name(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def standin(provider_name: str, clock: FixedClock) -> Iterator[StripeStandin | DodoStandin | None]:
    """The provider's stand-in, on the test's clock (none for the sandbox)."""
    if provider_name == "stripe":
        with StripeStandin(api_key=STRIPE_KEY, now=clock.now()) as stripe:
            yield stripe
    elif provider_name == "dodo":
        with DodoStandin(api_key=DODO_KEY, now=clock.now()) as dodo:
            yield dodo
    else:
        yield None


@pytest.fixture
def settings(
    settings: Settings, provider_name: str, standin: StripeStandin | DodoStandin | None
) -> Settings:
    if isinstance(standin, StripeStandin):
        return settings_with(
            settings,
            payments_provider="stripe",
            stripe_secret_key=STRIPE_KEY,
            stripe_webhook_secret=STRIPE_WEBHOOK_SECRET,
            stripe_base_url=standin.url,
        )
    if isinstance(standin, DodoStandin):
        return settings_with(
            settings,
            payments_provider="dodo",
            dodo_api_key=DODO_KEY,
            dodo_webhook_secret=DODO_WEBHOOK_SECRET,
            dodo_base_url=standin.url,
        )
    assert settings.payments_provider == provider_name == "sandbox"
    return settings


class Payments:
    """The selected provider's side of a test: paying checkouts, the deliveries it sends
    for them (signed now), and deliveries of our making signed with its scheme."""

    def __init__(
        self,
        name: str,
        container: ApplicationContainer,
        client: httpx.AsyncClient,
        clock: FixedClock,
        standin: StripeStandin | DodoStandin | None,
    ) -> None:
        self.name = name
        self.container = container
        self.client = client
        self.clock = clock
        self.standin = standin
        self.provider = container.billing.payment_provider()
        self._captured: list[Delivery] = []
        if name == "sandbox":
            # The sandbox hands its deliveries to a sink: ours, instead of the ingestion,
            # so that they come in over HTTP like any provider's.
            self.provider.set_webhook_sink(self._capture)

    @property
    def url(self) -> str:
        return f"/webhooks/billing/{self.name}"

    # Checkouts

    async def subscribe(self, owner: Person, ws: str, seats: int = 3) -> list[Delivery]:
        """A Pro checkout (paid now, no trial) through the API, paid at the provider:
        the deliveries the provider sends for it."""
        response = await self.client.post(
            f"/api/v1/workspaces/{ws}/billing/checkout",
            json={"plan": "pro", "interval": "month", "seats": seats, "trial": False},
            headers={**owner.headers, "Idempotency-Key": f"checkout-{ws}"},
        )
        assert response.status_code == 200, response.text
        return await self.pay(response.json()["id"])

    async def buy_pack(self, ws: str, quantity: int = 1) -> list[Delivery]:
        """A checkout for credit packs (the billing service's ``buy``), paid."""
        async with self.container.unit_of_work() as uow:
            session = await self.container.billing.service(uow=uow).buy(
                TenantContext(ws),
                product=PACK,
                quantity=quantity,
                currency=None,
                success_url="https://testserver.local/done",
                cancel_url="https://testserver.local/canceled",
                customer_name="Acme",
                customer_email="ada@example.com",
                idempotency_key=f"buy-{ws}-{quantity}",
            )
            await uow.commit()
        return await self.pay(session.id)

    async def pay(self, session_id: str) -> list[Delivery]:
        if isinstance(self.standin, StripeStandin | DodoStandin):
            self.standin.pay(session_id)
            return [self.resign(headers, body) for headers, body in self.standin.webhooks()]
        await self.provider.settle()
        self._captured = []
        await self.provider.pay(session_id)
        await self.provider.settle()
        return list(self._captured)

    async def _capture(self, headers: dict[str, str], body: bytes) -> None:
        self._captured.append((headers, body))

    # Signing

    def event_id(self, delivery: Delivery) -> str:
        headers, body = delivery
        if self.name == "stripe":
            event_id: str = json.loads(body)["id"]
            return event_id
        return {k.lower(): v for k, v in headers.items()}["webhook-id"]

    def sign(
        self, body: bytes, event_id: str, *, at: datetime | None = None, secret: str | None = None
    ) -> dict[str, str]:
        """``body`` signed with the provider's scheme at ``at`` (now), with the
        endpoint's secret or ``secret``."""
        stamp = int((at or self.clock.now()).timestamp())
        if self.name == "stripe":
            secrets_ = [secret or STRIPE_WEBHOOK_SECRET]
            return {"Stripe-Signature": signature_header(body, secrets_, stamp)}
        if self.name == "dodo":
            return dodo_standin.sign(secret or DODO_WEBHOOK_SECRET, event_id, stamp, body)
        key = secret or sandbox_webhook_secret(self.container.settings())
        return sandbox_wire.sign(
            key, body, event_id=event_id, at=datetime.fromtimestamp(stamp, UTC)
        )

    def resign(self, headers: dict[str, str], body: bytes, **options: Any) -> Delivery:
        return self.sign(body, self.event_id((headers, body)), **options), body

    async def post(self, delivery: Delivery) -> httpx.Response:
        headers, body = delivery
        return await self.client.post(
            self.url, content=body, headers={**headers, "Content-Type": "application/json"}
        )

    # Deliveries of our making

    def is_subscription(self, delivery: Delivery) -> bool:
        event_type = json.loads(delivery[1])["type"]
        if self.name == "stripe":
            return str(event_type).startswith("customer.subscription.")
        return str(event_type).startswith("subscription.")

    def unknown(self, ws: str) -> Delivery:
        """A verified event of a type billing does not use."""
        if isinstance(self.standin, StripeStandin):
            body = self.standin.event_body(
                "customer.tax_id.created",
                {"id": "txi_1", "object": "tax_id", "type": "eu_vat", "value": "DE123456789"},
            )
            return self.sign(body, json.loads(body)["id"]), body
        event_id = "msg_" + secrets.token_hex(8)
        if isinstance(self.standin, DodoStandin):
            body = self.standin.webhook_body(
                "dispute.opened",
                {"dispute_id": "dsp_1", "amount": "1000", "metadata": {"workspace_id": ws}},
                "Dispute",
            )
        else:
            body = sandbox_wire.event_body(
                event_id,
                "dispute.opened",
                self.clock.now(),
                {"object": "dispute", "id": "dp_1", "workspace_id": ws},
            ).encode()
        return self.sign(body, event_id), body

    def view(
        self, subscription_event: Delivery, *, later: int, cancel_at_period_end: bool, seats: int
    ) -> Delivery:
        """The subscription of ``subscription_event`` as the provider would show it
        ``later`` seconds after, with a scheduled cancellation or not and ``seats``
        billed seats: a ``*.updated`` event of its own id, signed now."""
        event = json.loads(subscription_event[1])
        if self.name == "stripe":
            obj = event["data"]["object"]
            obj["cancel_at_period_end"] = cancel_at_period_end
            obj["items"]["data"][0]["quantity"] = seats
            obj["quantity"] = seats
            event.update(
                id="evt_" + secrets.token_hex(12),
                type="customer.subscription.updated",
                created=event["created"] + later,
            )
            body = json.dumps(event).encode()
            return self.sign(body, event["id"]), body
        event_id = "msg_" + secrets.token_hex(12)
        if self.name == "dodo":
            data = event["data"]
            data.update(cancel_at_next_billing_date=cancel_at_period_end, quantity=seats)
            at = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
            event.update(
                type="subscription.updated",
                timestamp=dodo_standin.iso(at + timedelta(seconds=later)),
            )
            body = json.dumps(event).encode()
            return self.sign(body, event_id), body
        data = event["data"]
        data.update(
            cancel_at_period_end=cancel_at_period_end,
            quantity=seats,
            provider_version=data["provider_version"] + later * 1_000_000,
        )
        created = datetime.fromisoformat(event["created"].replace("Z", "+00:00"))
        body = sandbox_wire.event_body(
            event_id, sandbox_wire.SUBSCRIPTION_UPDATED, created + timedelta(seconds=later), data
        ).encode()
        return self.sign(body, event_id), body


@pytest.fixture
def payments(
    provider_name: str,
    container: ApplicationContainer,
    client: httpx.AsyncClient,
    clock: FixedClock,
    standin: StripeStandin | DodoStandin | None,
) -> Payments:
    return Payments(provider_name, container, client, clock, standin)


@pytest.fixture
async def ada(client: httpx.AsyncClient, container: ApplicationContainer) -> Person:
    return await person(client, container, "ada")


@pytest.fixture
async def workspace(client: httpx.AsyncClient, ada: Person) -> str:
    return await workspace_of(client, ada)


# -- what the database holds -------------------------------------------------------------


async def stored(container: ApplicationContainer) -> list[dict[str, Any]]:
    async with container.unit_of_work() as uow:
        rows = await uow.session.execute(select(webhook_rows).order_by(webhook_rows.c.received_at))
        return [dict(row._mapping) for row in rows]


async def stored_event(container: ApplicationContainer, event_id: str) -> dict[str, Any]:
    (found,) = [row for row in await stored(container) if row["event_id"] == event_id]
    return found


async def apply_jobs(container: ApplicationContainer) -> int:
    async with container.unit_of_work() as uow:
        count = await uow.session.scalar(
            select(func.count()).select_from(jobs).where(jobs.c.name == APPLY_WEBHOOK.name)
        )
    return int(count or 0)


async def count(container: ApplicationContainer, table: Any, **where: Any) -> int:
    query = select(func.count()).select_from(table)
    for name, value in where.items():
        query = query.where(table.c[name] == value)
    async with container.unit_of_work() as uow:
        return int(await uow.session.scalar(query) or 0)


async def subscription_of(
    client: httpx.AsyncClient, owner: Person, ws: str
) -> dict[str, Any] | None:
    response = await client.get(
        f"/api/v1/workspaces/{ws}/billing/subscription", headers=owner.headers
    )
    assert response.status_code == 200, response.text
    sub: dict[str, Any] | None = response.json()["subscription"]
    return sub


async def staff(client: httpx.AsyncClient, container: ApplicationContainer) -> Person:
    """Someone of the operations staff (``billing:read`` and ``billing:manage``)."""
    ops = await person(client, container, "ops")
    async with container.unit_of_work() as uow:
        await container.identity.staff(uow=uow).set_staff_role(ops.email, StaffRole.OPS)
        await uow.commit()
    return ops


async def purchased_credits(container: ApplicationContainer, ws: str) -> tuple[list[int], int]:
    """The amounts of the workspace's purchase grants, and its available credits."""
    tenant = TenantContext(ws)
    async with container.unit_of_work() as uow:
        ledger = container.billing.ledger(uow=uow)
        balance = await ledger.balance(tenant)
        grants = await ledger.grants(tenant)
    bought = [g.grant.amount for g in grants if g.grant.source is CreditSource.PURCHASE]
    return bought, balance.available


def assert_refused(response: httpx.Response, reason: str) -> None:
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["type"] == INVALID
    assert problem["reason"] == reason
    assert response.headers["content-type"].startswith("application/problem+json")


async def assert_nothing_kept(container: ApplicationContainer) -> None:
    assert await stored(container) == []
    assert await apply_jobs(container) == 0


# -- signatures ------------------------------------------------------------------------


async def test_a_bad_signature_is_refused_and_nothing_is_kept(
    payments: Payments, container: ApplicationContainer, ada: Person, workspace: str
) -> None:
    deliveries = await payments.subscribe(ada, workspace)
    headers, body = deliveries[0]

    # Signed with another endpoint's secret.
    forged = payments.resign(headers, body, secret=OTHER_SECRET)
    assert_refused(await payments.post(forged), "bad-signature")
    # The right signature, for other bytes.
    tampered = body.replace(b"pro", b"bus", 1) if b"pro" in body else body + b" "
    assert_refused(await payments.post((headers, tampered)), "bad-signature")
    # No signature at all.
    bare = {k: v for k, v in headers.items() if "signature" not in k.lower()}
    assert_refused(await payments.post((bare, body)), "missing-header")

    await assert_nothing_kept(container)
    await run_jobs(container)
    assert await subscription_of(payments.client, ada, workspace) is None


async def test_a_stale_or_future_timestamp_is_refused_and_nothing_is_kept(
    payments: Payments,
    container: ApplicationContainer,
    clock: FixedClock,
    ada: Person,
    workspace: str,
) -> None:
    headers, body = (await payments.subscribe(ada, workspace))[0]
    now = clock.now()

    stale = payments.resign(headers, body, at=now - timedelta(minutes=10))
    assert_refused(await payments.post(stale), "stale")
    future = payments.resign(headers, body, at=now + timedelta(minutes=10))
    assert_refused(await payments.post(future), "stale")
    await assert_nothing_kept(container)

    # Within the tolerance (five minutes) either way, the same event is taken.
    accepted = payments.resign(headers, body, at=now - timedelta(minutes=4))
    response = await payments.post(accepted)
    assert response.status_code == 200, response.text
    assert response.json() == {"received": True, "duplicate": False}
    assert len(await stored(container)) == 1


async def test_a_signed_body_that_is_not_an_event_is_refused_and_nothing_is_kept(
    payments: Payments, container: ApplicationContainer
) -> None:
    for body in (b"not json", b"[]", b'{"id": "evt_1"}'):
        headers = payments.sign(body, "msg_" + secrets.token_hex(8))
        assert_refused(await payments.post((headers, body)), "malformed")
    await assert_nothing_kept(container)


# -- duplicates --------------------------------------------------------------------------


async def test_ten_concurrent_deliveries_of_a_paid_credit_pack_grant_its_credits_once(
    payments: Payments, container: ApplicationContainer, workspace: str
) -> None:
    deliveries = await payments.buy_pack(workspace)
    # Every delivery ten times, all at once.
    sent = [delivery for delivery in deliveries for _ in range(10)]
    answers = await asyncio.gather(*(payments.post(delivery) for delivery in sent))

    assert [a.status_code for a in answers] == [200] * len(sent), [a.text for a in answers]
    for delivery in deliveries:
        mine = [a.json() for d, a in zip(sent, answers, strict=True) if d is delivery]
        assert sorted(a["duplicate"] for a in mine) == [False] + [True] * 9
    rows = await stored(container)
    assert sorted(r["event_id"] for r in rows) == sorted(map(payments.event_id, deliveries))
    applied = [r for r in rows if r["status"] == "pending"]
    assert any(r["kind"] == "payment" for r in applied)
    assert await apply_jobs(container) == len(applied)

    # The answers did not wait for the work: nothing is applied before the job runs.
    assert await purchased_credits(container, workspace) == ([], 0)

    await run_jobs(container)
    assert await purchased_credits(container, workspace) == ([PACK_CREDITS], PACK_CREDITS)
    assert all(r["status"] in ("processed", "ignored") for r in await stored(container))

    # A staff replay of the payment applies it again: idempotent, no second grant.
    ops = await staff(payments.client, container)
    (payment,) = [r for r in applied if r["kind"] == "payment"]
    replayed = await payments.client.post(
        f"/api/v1/admin/billing/webhook-events/{payments.name}/{payment['event_id']}/replay",
        headers=ops.headers,
    )
    assert replayed.status_code == 202, replayed.text
    await run_jobs(container)
    again = await stored_event(container, payment["event_id"])
    assert (again["status"], again["attempts"]) == ("processed", 2)
    assert "applied before" in again["detail"]
    assert await purchased_credits(container, workspace) == ([PACK_CREDITS], PACK_CREDITS)


async def test_ten_sequential_deliveries_of_a_paid_checkout_apply_it_once(
    payments: Payments, container: ApplicationContainer, ada: Person, workspace: str
) -> None:
    deliveries = await payments.subscribe(ada, workspace)
    assert any(payments.is_subscription(d) for d in deliveries)

    # Each delivery ten times in a row, then its job (one at a time: see the module's
    # note on concurrent first sights of a subscription).
    for delivery in deliveries:
        jobs_before = await apply_jobs(container)
        answers = [await payments.post(delivery) for _ in range(10)]
        assert [a.status_code for a in answers] == [200] * 10
        assert [a.json()["duplicate"] for a in answers] == [False] + [True] * 9
        row = await stored_event(container, payments.event_id(delivery))
        queued = row["status"] == "pending"
        assert await apply_jobs(container) == jobs_before + queued
        await run_jobs(container)
        applied = await stored_event(container, row["event_id"])
        assert applied["status"] in ("processed", "ignored"), applied["detail"]

    rows = await stored(container)
    assert len(rows) == len(deliveries)
    sub = await subscription_of(payments.client, ada, workspace)
    assert sub is not None
    assert (sub["status"], sub["plan"], sub["seats"]) == ("active", "pro", 3)
    assert await count(container, subscriptions, workspace_id=workspace) == 1
    assert await count(container, invoices, workspace_id=workspace) == 1
    statuses = {r["event_id"]: r["status"] for r in await stored(container)}
    assert set(statuses.values()) <= {"processed", "ignored"}, statuses

    # Delivered again once applied: acknowledged, and nothing more happens.
    again = await payments.post(payments.resign(*deliveries[-1]))
    assert again.json() == {"received": True, "duplicate": True}
    assert await run_jobs(container) == 0
    assert (await subscription_of(payments.client, ada, workspace)) == sub


# -- ordering ----------------------------------------------------------------------------


async def test_an_older_view_delivered_after_a_newer_one_changes_nothing(
    payments: Payments, container: ApplicationContainer, ada: Person, workspace: str
) -> None:
    deliveries = await payments.subscribe(ada, workspace)
    for delivery in deliveries:
        assert (await payments.post(delivery)).status_code == 200
        await run_jobs(container)
    first = await subscription_of(payments.client, ada, workspace)
    assert first is not None
    assert (first["status"], first["seats"], first["cancel_at_period_end"]) == ("active", 3, False)

    current = [d for d in deliveries if payments.is_subscription(d)][-1]
    older = payments.view(current, later=1, cancel_at_period_end=False, seats=5)
    newer = payments.view(current, later=2, cancel_at_period_end=True, seats=3)

    assert (await payments.post(newer)).json()["duplicate"] is False
    await run_jobs(container)
    scheduled = await subscription_of(payments.client, ada, workspace)
    assert scheduled is not None
    assert (scheduled["status"], scheduled["seats"], scheduled["cancel_at_period_end"]) == (
        "active",
        3,
        True,
    )

    assert (await payments.post(older)).json()["duplicate"] is False
    await run_jobs(container)
    assert await subscription_of(payments.client, ada, workspace) == scheduled
    async with container.unit_of_work() as uow:
        row = (
            await uow.session.execute(
                select(subscriptions).where(subscriptions.c.workspace_id == workspace)
            )
        ).one()
    assert (row.seats, row.cancel_at_period_end) == (3, True)

    newer_row = await stored_event(container, payments.event_id(newer))
    older_row = await stored_event(container, payments.event_id(older))
    assert newer_row["status"] == "processed"
    # The older view is kept and marked done: it named the subscription, which it left
    # as the newer view made it.
    assert older_row["status"] == "processed"
    assert older_row["detail"] == newer_row["detail"]
    assert scheduled["id"] in older_row["detail"]


# -- unknown types, other providers ------------------------------------------------------


async def test_an_unknown_event_type_is_kept_as_ignored_and_never_applied(
    payments: Payments, container: ApplicationContainer, workspace: str
) -> None:
    delivery = payments.unknown(workspace)
    response = await payments.post(delivery)

    assert response.status_code == 200, response.text
    assert response.json() == {"received": True, "duplicate": False}
    (row,) = await stored(container)
    assert row["event_id"] == payments.event_id(delivery)
    assert (row["status"], row["kind"], row["provider"]) == ("ignored", "ignored", payments.name)
    assert row["body"] == delivery[1]
    assert "not used by billing" in row["detail"]
    assert await apply_jobs(container) == 0
    assert (await payments.post(delivery)).json()["duplicate"] is True
    await run_jobs(container)
    assert (await stored_event(container, row["event_id"]))["status"] == "ignored"
    assert await count(container, subscriptions) == 0


async def test_the_route_of_a_provider_that_is_not_selected_is_404(
    payments: Payments, container: ApplicationContainer, workspace: str
) -> None:
    headers, body = payments.unknown(workspace)
    for other in [p for p in PROVIDERS if p != payments.name] + ["paypal"]:
        response = await payments.client.post(
            f"/webhooks/billing/{other}", content=body, headers=headers
        )
        assert response.status_code == 404, (other, response.text)
        assert response.json()["type"] == BASE + "billing/webhook-provider-not-selected"
    await assert_nothing_kept(container)


# -- failures and staff replay ---------------------------------------------------------


async def test_an_event_of_an_unmapped_price_fails_and_a_staff_replay_applies_it_after_sync(
    payments: Payments, container: ApplicationContainer, ada: Person, workspace: str
) -> None:
    deliveries = await payments.subscribe(ada, workspace)
    subscription_event = [d for d in deliveries if payments.is_subscription(d)][-1]
    event_id = payments.event_id(subscription_event)
    # Our record of the provider's prices is lost (a restore, a sync never run here).
    async with container.unit_of_work() as uow:
        await uow.session.execute(delete(provider_prices))
        await uow.commit()

    assert (await payments.post(subscription_event)).status_code == 200
    await run_jobs(container)
    failed = await stored_event(container, event_id)
    assert failed["status"] == "failed"
    event = json.loads(subscription_event[1])
    if payments.name == "stripe":
        price_id = event["data"]["object"]["items"]["data"][0]["price"]["id"]
    elif payments.name == "dodo":
        price_id = event["data"]["product_id"]
    else:
        price_id = event["data"]["price_id"]
    assert price_id in failed["detail"]
    assert await subscription_of(payments.client, ada, workspace) is None

    # Staff see it among the failed events; after the sync, a replay applies it.
    ops = await staff(payments.client, container)
    listed = await payments.client.get(
        "/api/v1/admin/billing/webhook-events",
        params={"provider": payments.name, "status": "failed"},
        headers=ops.headers,
    )
    assert listed.status_code == 200, listed.text
    assert [e["event_id"] for e in listed.json()["events"]] == [event_id]

    async with container.unit_of_work() as uow:
        await container.billing.service(uow=uow).sync_prices()
        await uow.commit()
    replayed = await payments.client.post(
        f"/api/v1/admin/billing/webhook-events/{payments.name}/{event_id}/replay",
        headers=ops.headers,
    )
    assert replayed.status_code == 202, replayed.text
    assert replayed.json()["status"] == "pending"
    await run_jobs(container)

    done = await stored_event(container, event_id)
    assert done["status"] == "processed", done["detail"]
    sub = await subscription_of(payments.client, ada, workspace)
    assert sub is not None
    assert (sub["status"], sub["plan"]) == ("active", "pro")
    assert sub["id"] in done["detail"]
    shown = await payments.client.get(
        f"/api/v1/admin/billing/webhook-events/{payments.name}/{event_id}", headers=ops.headers
    )
    assert shown.status_code == 200, shown.text
    assert shown.json()["body"] == subscription_event[1].decode()
    assert shown.json()["attempts"] == 2


async def test_a_checkouts_deliveries_applied_by_concurrent_jobs_leave_it_active(
    payments: Payments, container: ApplicationContainer, ada: Person, workspace: str
) -> None:
    """A subscription's first events applied by jobs at the same time: each finds no
    subscription and creates one; the loser's job retries (not a failure) and applies
    its view to the winner's row."""
    for delivery in await payments.subscribe(ada, workspace):
        assert (await payments.post(delivery)).status_code == 200
    await run_jobs(container)
    payments.clock.advance(timedelta(minutes=5))  # any retry is due
    await run_jobs(container)
    failed = [(r["type"], r["detail"]) for r in await stored(container) if r["status"] == "failed"]
    assert failed == []
    sub = await subscription_of(payments.client, ada, workspace)
    assert sub is not None
    assert sub["status"] == "active"


async def test_a_paid_checkouts_invoice_is_mirrored_as_paid(
    payments: Payments, container: ApplicationContainer, ada: Person, workspace: str
) -> None:
    """An invoice finalized and paid within one second: the paid view wins."""
    for delivery in await payments.subscribe(ada, workspace):
        assert (await payments.post(delivery)).status_code == 200
        await run_jobs(container)
    async with container.unit_of_work() as uow:
        (row,) = (await uow.session.execute(select(invoices))).all()
    assert (row.status, row.amount_paid) == ("paid", row.total)
