"""Conformance of billing's stores (``core.billing.ports``): one class per port.

Each class names the fixture it needs: the adapter, bound to one open unit of work (for
SQL, a session that is never committed: everything is read back in it).

- ``SubscriptionStoreContract``: ``subscription_store``
- ``CustomerStoreContract``: ``customer_store``
- ``PriceStoreContract``: ``price_store``
- ``InvoiceStoreContract``: ``invoice_store``
- ``WebhookEventStoreContract``: ``webhook_event_store``
- ``AlertLogContract``: ``alert_log``
- ``UsageReportLogContract``: ``usage_report_log``

Every store gives back what it was given, times in UTC. Where the ports leave a choice,
these suites fix it: a customer mapping that contradicts a stored one is refused with
``ValueError`` (the stored one stays); ``mark(…, PENDING)`` (a replay) counts no attempt
and keeps ``processed_at``; an invoice cursor that is not one of the workspace's
invoices answers an empty page.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import msgspec
import pytest

from core.billing.catalog import BillingInterval
from core.billing.errors import ConcurrentSubscriptionUpdateError, SubscriptionExistsError
from core.billing.payments import InvoiceStatus, ProviderPrice, WebhookKind
from core.billing.ports import (
    AlertLog,
    CustomerStore,
    Invoice,
    InvoiceStore,
    PriceStore,
    StoredWebhookEvent,
    SubscriptionStore,
    UsageReportLog,
    WebhookEventStatus,
    WebhookEventStore,
)
from core.billing.subscriptions import Subscription, SubscriptionStatus
from core.kernel import TenantContext

T0 = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
PLUS_TWO = timezone(timedelta(hours=2))
DAY = timedelta(days=1)
WS1, WS2 = TenantContext("ws_stores_contract_one"), TenantContext("ws_stores_contract_two")
_S = SubscriptionStatus


def _all_utc(struct: msgspec.Struct) -> bool:
    times = [v for v in msgspec.structs.asdict(struct).values() if isinstance(v, datetime)]
    return bool(times) and all(t.utcoffset() == timedelta(0) for t in times)


def a_subscription(
    sub_id: str = "sub_1",
    *,
    workspace: TenantContext = WS1,
    status: SubscriptionStatus = _S.ACTIVE,
    created_at: datetime = T0,
    provider_subscription_id: str | None = None,
) -> Subscription:
    """A minimal subscription: every optional field at its default."""
    return Subscription(
        id=sub_id,
        workspace_id=workspace.workspace_id,
        plan="pro",
        interval=BillingInterval.MONTH,
        currency="EUR",
        status=status,
        provider="sandbox",
        provider_subscription_id=provider_subscription_id,
        created_at=created_at,
    )


def a_full_subscription() -> Subscription:
    """Every field set, to something other than its default; times not in UTC."""
    at = T0.astimezone(PLUS_TWO)
    return Subscription(
        id="sub_full",
        workspace_id=WS1.workspace_id,
        plan="team",
        interval=BillingInterval.YEAR,
        currency="USD",
        seats=7,
        status=_S.PAST_DUE,
        cancel_at_period_end=True,
        current_period_start=at,
        current_period_end=at + 30 * DAY,
        trial_end=at - DAY,
        canceled_at=at + timedelta(hours=1),
        ended_at=at + 31 * DAY,
        past_due_since=at + timedelta(minutes=5),
        pending_plan="starter",
        pending_interval=BillingInterval.MONTH,
        provider="stripe",
        provider_subscription_id="sub_Stripe123",
        provider_version=1_735_000_000_123,
        created_at=at - 2 * DAY,
    )


class SubscriptionStoreContract:
    async def test_a_subscription_comes_back_whole(
        self, subscription_store: SubscriptionStore
    ) -> None:
        given = a_full_subscription()

        added = await subscription_store.add(given)

        assert added == msgspec.structs.replace(given, version=1)
        stored = await subscription_store.get("sub_full")
        assert stored == added
        assert stored is not None
        assert _all_utc(stored)
        assert type(stored.status) is SubscriptionStatus
        assert type(stored.interval) is BillingInterval
        assert type(stored.pending_interval) is BillingInterval
        assert stored.cancel_at_period_end is True

    async def test_unset_fields_come_back_unset(
        self, subscription_store: SubscriptionStore
    ) -> None:
        given = a_subscription(status=_S.INCOMPLETE)

        await subscription_store.add(given)

        stored = await subscription_store.get("sub_1")
        assert stored == msgspec.structs.replace(given, version=1)
        assert stored is not None
        assert stored.current_period_end is None
        assert stored.pending_interval is None
        assert stored.cancel_at_period_end is False
        assert await subscription_store.get("sub_unknown") is None

    async def test_a_workspace_has_one_live_subscription(
        self, subscription_store: SubscriptionStore
    ) -> None:
        await subscription_store.add(a_subscription("sub_1", status=_S.TRIALING))

        with pytest.raises(SubscriptionExistsError):
            await subscription_store.add(a_subscription("sub_2", status=_S.INCOMPLETE))

        # The refusal leaves the unit of work usable, with the first one kept.
        current = await subscription_store.current(WS1)
        assert current is not None
        assert current.id == "sub_1"
        assert await subscription_store.get("sub_2") is None
        other = await subscription_store.add(a_subscription("sub_3", workspace=WS2))
        assert other.version == 1

    async def test_final_subscriptions_do_not_block_a_new_one(
        self, subscription_store: SubscriptionStore
    ) -> None:
        await subscription_store.add(a_subscription("sub_1", status=_S.CANCELED))
        await subscription_store.add(a_subscription("sub_2", status=_S.INCOMPLETE_EXPIRED))

        added = await subscription_store.add(a_subscription("sub_3", status=_S.ACTIVE))

        assert added.id == "sub_3"
        await subscription_store.add(a_subscription("sub_4", status=_S.CANCELED))
        assert await subscription_store.get("sub_4") is not None

    async def test_save_stores_the_change_with_the_next_version(
        self, subscription_store: SubscriptionStore
    ) -> None:
        added = await subscription_store.add(a_subscription(status=_S.INCOMPLETE))
        changed = msgspec.structs.replace(
            added,
            status=_S.ACTIVE,
            seats=3,
            current_period_start=T0,
            current_period_end=T0 + 31 * DAY,
            provider_subscription_id="sub_P1",
            provider_version=5,
        )

        saved = await subscription_store.save(changed)
        again = await subscription_store.save(msgspec.structs.replace(saved, seats=4))

        assert saved == msgspec.structs.replace(changed, version=2)
        assert again.version == 3
        assert await subscription_store.get(added.id) == again

    async def test_a_stale_save_is_refused(self, subscription_store: SubscriptionStore) -> None:
        added = await subscription_store.add(a_subscription())
        first = await subscription_store.save(msgspec.structs.replace(added, seats=2))

        with pytest.raises(ConcurrentSubscriptionUpdateError):
            await subscription_store.save(msgspec.structs.replace(added, seats=9))

        assert await subscription_store.get(added.id) == first
        with pytest.raises(ConcurrentSubscriptionUpdateError):
            await subscription_store.save(a_subscription("sub_never_added"))
        assert await subscription_store.get("sub_never_added") is None

    async def test_save_cannot_make_a_second_live_one(
        self, subscription_store: SubscriptionStore
    ) -> None:
        old = await subscription_store.add(a_subscription("sub_1", status=_S.CANCELED))
        await subscription_store.add(a_subscription("sub_2", status=_S.ACTIVE))

        with pytest.raises(SubscriptionExistsError):
            await subscription_store.save(msgspec.structs.replace(old, status=_S.ACTIVE))

        assert await subscription_store.get("sub_1") == old
        current = await subscription_store.current(WS1)
        assert current is not None
        assert current.id == "sub_2"

    async def test_current_is_the_live_one_else_the_latest_final_one(
        self, subscription_store: SubscriptionStore
    ) -> None:
        assert await subscription_store.current(WS1) is None
        await subscription_store.add(a_subscription("sub_a", status=_S.CANCELED, created_at=T0))
        await subscription_store.add(
            a_subscription("sub_b", status=_S.INCOMPLETE_EXPIRED, created_at=T0 + DAY)
        )
        latest_final = await subscription_store.current(WS1)
        assert latest_final is not None
        assert latest_final.id == "sub_b"

        await subscription_store.add(a_subscription("sub_c", status=_S.PAUSED, created_at=T0))
        await subscription_store.add(
            a_subscription("sub_d", status=_S.CANCELED, created_at=T0 + 2 * DAY)
        )

        current = await subscription_store.current(WS1)
        assert current is not None
        assert current.id == "sub_c"
        assert await subscription_store.current(WS2) is None

    async def test_by_provider_id(self, subscription_store: SubscriptionStore) -> None:
        await subscription_store.add(a_subscription("sub_1", provider_subscription_id="p_1"))
        await subscription_store.add(
            a_subscription("sub_2", workspace=WS2, provider_subscription_id="p_2")
        )

        found = await subscription_store.by_provider_id("sandbox", "p_2")

        assert found is not None
        assert found.id == "sub_2"
        assert found.workspace_id == "ws_stores_contract_two"
        assert await subscription_store.by_provider_id("stripe", "p_2") is None
        assert await subscription_store.by_provider_id("sandbox", "p_3") is None

    async def test_by_provider_id_prefers_the_live_one(
        self, subscription_store: SubscriptionStore
    ) -> None:
        await subscription_store.add(a_subscription("sub_1", provider_subscription_id="p_1"))
        await subscription_store.add(
            a_subscription(
                "sub_0", status=_S.CANCELED, created_at=T0 + DAY, provider_subscription_id="p_1"
            )
        )

        found = await subscription_store.by_provider_id("sandbox", "p_1")

        assert found is not None
        assert found.id == "sub_1"

    async def test_page_orders_by_id_and_filters(
        self, subscription_store: SubscriptionStore
    ) -> None:
        for sub_id, workspace, status in [
            ("sub_5", TenantContext("ws_a"), _S.ACTIVE),
            ("sub_1", TenantContext("ws_b"), _S.CANCELED),
            ("sub_3", TenantContext("ws_c"), _S.ACTIVE),
            ("sub_2", TenantContext("ws_b"), _S.PAST_DUE),
            ("sub_4", TenantContext("ws_d"), _S.ACTIVE),
        ]:
            await subscription_store.add(a_subscription(sub_id, workspace=workspace, status=status))

        def ids(found: list[Subscription]) -> list[str]:
            return [s.id for s in found]

        assert ids(await subscription_store.page()) == ["sub_1", "sub_2", "sub_3", "sub_4", "sub_5"]
        assert ids(await subscription_store.page(limit=2)) == ["sub_1", "sub_2"]
        assert ids(await subscription_store.page(after="sub_2", limit=2)) == ["sub_3", "sub_4"]
        assert ids(await subscription_store.page(after="sub_5")) == []
        assert ids(await subscription_store.page(status=_S.ACTIVE)) == ["sub_3", "sub_4", "sub_5"]
        assert ids(await subscription_store.page(status=_S.ACTIVE, after="sub_3")) == [
            "sub_4",
            "sub_5",
        ]
        assert ids(await subscription_store.page(workspace_id="ws_b")) == ["sub_1", "sub_2"]
        assert ids(await subscription_store.page(workspace_id="ws_b", status=_S.PAST_DUE)) == [
            "sub_2"
        ]


class CustomerStoreContract:
    async def test_a_mapping_answers_both_ways(self, customer_store: CustomerStore) -> None:
        await customer_store.add("stripe", "ws_1", "cus_1")
        await customer_store.add("dodo", "ws_1", "cus_d1")

        assert await customer_store.customer_id("stripe", "ws_1") == "cus_1"
        assert await customer_store.customer_id("dodo", "ws_1") == "cus_d1"
        assert await customer_store.workspace_id("stripe", "cus_1") == "ws_1"
        assert await customer_store.workspace_id("dodo", "cus_1") is None
        assert await customer_store.customer_id("stripe", "ws_2") is None
        assert await customer_store.workspace_id("stripe", "cus_2") is None

    async def test_the_same_mapping_again_changes_nothing(
        self, customer_store: CustomerStore
    ) -> None:
        await customer_store.add("stripe", "ws_1", "cus_1")

        await customer_store.add("stripe", "ws_1", "cus_1")

        assert await customer_store.customer_id("stripe", "ws_1") == "cus_1"
        assert await customer_store.workspace_id("stripe", "cus_1") == "ws_1"

    async def test_a_contradicting_mapping_is_refused(self, customer_store: CustomerStore) -> None:
        await customer_store.add("stripe", "ws_1", "cus_1")

        with pytest.raises(ValueError, match="already mapped"):
            await customer_store.add("stripe", "ws_1", "cus_other")
        with pytest.raises(ValueError, match="already mapped"):
            await customer_store.add("stripe", "ws_other", "cus_1")

        assert await customer_store.customer_id("stripe", "ws_1") == "cus_1"
        assert await customer_store.customer_id("stripe", "ws_other") is None
        assert await customer_store.workspace_id("stripe", "cus_other") is None
        await customer_store.add("stripe", "ws_2", "cus_2")  # the unit of work goes on
        assert await customer_store.workspace_id("stripe", "cus_2") == "ws_2"


def a_price(key: str, price_id: str, *, provider: str = "stripe") -> ProviderPrice:
    return ProviderPrice(
        provider=provider,
        key=key,
        provider_product_id=f"prod_{key}",
        provider_price_id=price_id,
        fingerprint=f"fp_{price_id}",
    )


class PriceStoreContract:
    async def test_saved_prices_are_the_current_ones(self, price_store: PriceStore) -> None:
        monthly, yearly = a_price("pro:month:eur", "price_1"), a_price("pro:year:eur", "price_2")

        await price_store.save([monthly, yearly])

        assert await price_store.all("stripe") == {monthly.key: monthly, yearly.key: yearly}
        assert await price_store.all("dodo") == {}
        assert await price_store.by_provider_price_id("stripe", "price_2") == yearly
        assert await price_store.by_provider_price_id("dodo", "price_2") is None
        assert await price_store.by_provider_price_id("stripe", "price_3") is None

    async def test_a_new_price_replaces_its_key_and_the_old_stays_findable(
        self, price_store: PriceStore
    ) -> None:
        old, other = a_price("pro:month:eur", "price_old"), a_price("team:month:eur", "price_t")
        await price_store.save([old, other])
        new = a_price("pro:month:eur", "price_new")

        await price_store.save([new])

        assert await price_store.all("stripe") == {new.key: new, other.key: other}
        assert await price_store.by_provider_price_id("stripe", "price_old") == old
        assert await price_store.by_provider_price_id("stripe", "price_new") == new

    async def test_saving_again_is_harmless_and_can_bring_a_price_back(
        self, price_store: PriceStore
    ) -> None:
        old, new = a_price("pro:month:eur", "price_old"), a_price("pro:month:eur", "price_new")
        await price_store.save([old])
        await price_store.save([new])
        await price_store.save([new])
        assert await price_store.all("stripe") == {new.key: new}

        await price_store.save([old])

        assert await price_store.all("stripe") == {old.key: old}
        assert await price_store.by_provider_price_id("stripe", "price_new") == new

    async def test_providers_keep_their_own_prices(self, price_store: PriceStore) -> None:
        stripe = a_price("pro:month:eur", "price_1")
        dodo = a_price("pro:month:eur", "price_1", provider="dodo")

        await price_store.save([stripe, dodo])

        assert await price_store.all("stripe") == {stripe.key: stripe}
        assert await price_store.all("dodo") == {dodo.key: dodo}


def an_invoice(
    invoice_id: str,
    *,
    workspace: TenantContext = WS1,
    issued_at: datetime = T0,
    version: int = 1,
    status: InvoiceStatus = InvoiceStatus.OPEN,
) -> Invoice:
    return Invoice(
        workspace_id=workspace.workspace_id,
        provider="stripe",
        provider_invoice_id=invoice_id,
        status=status,
        currency="EUR",
        subtotal=1000,
        total=1000,
        issued_at=issued_at,
        provider_version=version,
    )


class InvoiceStoreContract:
    async def test_an_invoice_comes_back_whole(self, invoice_store: InvoiceStore) -> None:
        at = T0.astimezone(PLUS_TWO)
        full = Invoice(
            workspace_id=WS1.workspace_id,
            provider="stripe",
            provider_invoice_id="in_full",
            provider_subscription_id="sub_P1",
            number="INV-0001",
            status=InvoiceStatus.PAID,
            currency="USD",
            subtotal=10_000,
            tax=1_900,
            total=11_900,
            amount_paid=11_900,
            amount_due=11_900,
            period_start=at,
            period_end=at + 31 * DAY,
            issued_at=at + timedelta(seconds=1),
            hosted_url="https://pay.example/in_full",
            pdf_url="https://pay.example/in_full.pdf",
            provider_version=1_735_000_000_000_001,
        )
        bare = an_invoice("in_bare", issued_at=T0 - DAY)

        assert await invoice_store.upsert(full) is True
        assert await invoice_store.upsert(bare) is True

        page = await invoice_store.page(WS1)
        assert page == [full, bare]
        assert _all_utc(page[0])
        assert _all_utc(page[1])
        assert type(page[0].status) is InvoiceStatus
        assert page[1].number is None
        assert page[1].period_start is None

    async def test_only_a_newer_view_replaces_the_stored_one(
        self, invoice_store: InvoiceStore
    ) -> None:
        await invoice_store.upsert(an_invoice("in_1", version=5))

        older = an_invoice("in_1", version=4, status=InvoiceStatus.VOID)
        equal = an_invoice("in_1", version=5, status=InvoiceStatus.VOID)
        assert await invoice_store.upsert(older) is False
        assert await invoice_store.upsert(equal) is False
        assert [i.status for i in await invoice_store.page(WS1)] == [InvoiceStatus.OPEN]

        newer = an_invoice("in_1", version=6, status=InvoiceStatus.PAID)
        assert await invoice_store.upsert(newer) is True
        assert await invoice_store.page(WS1) == [newer]

    async def test_pages_go_from_the_newest_with_a_cursor(
        self, invoice_store: InvoiceStore
    ) -> None:
        for invoice_id, issued_at in [
            ("in_a", T0),
            ("in_b", T0 + DAY),
            ("in_c", T0 + DAY),  # same time as in_b: the higher id first
            ("in_d", T0 + 2 * DAY),
            ("in_e", T0 - DAY),
        ]:
            await invoice_store.upsert(an_invoice(invoice_id, issued_at=issued_at))
        await invoice_store.upsert(an_invoice("in_z", workspace=WS2, issued_at=T0 + DAY))

        def ids(found: list[Invoice]) -> list[str]:
            return [i.provider_invoice_id for i in found]

        assert ids(await invoice_store.page(WS1)) == ["in_d", "in_c", "in_b", "in_a", "in_e"]
        assert ids(await invoice_store.page(WS1, limit=2)) == ["in_d", "in_c"]
        assert ids(await invoice_store.page(WS1, before="in_c", limit=2)) == ["in_b", "in_a"]
        assert ids(await invoice_store.page(WS1, before="in_a")) == ["in_e"]
        assert ids(await invoice_store.page(WS1, before="in_e")) == []
        assert ids(await invoice_store.page(WS2)) == ["in_z"]
        assert ids(await invoice_store.page(WS2, before="in_c")) == []


def an_event(
    event_id: str,
    *,
    provider: str = "stripe",
    received_at: datetime = T0,
    type: str = "invoice.paid",
    workspace_id: str | None = "ws_1",
    body: bytes = b'{"id": "evt"}',
) -> StoredWebhookEvent:
    return StoredWebhookEvent(
        provider=provider,
        event_id=event_id,
        type=type,
        kind=WebhookKind.INVOICE,
        workspace_id=workspace_id,
        received_at=received_at,
        body=body,
    )


class WebhookEventStoreContract:
    async def test_an_event_comes_back_whole(self, webhook_event_store: WebhookEventStore) -> None:
        body = b'{"id":"evt_1","amount":12}\n\x00\xff\xfe raw bytes'
        event = StoredWebhookEvent(
            provider="dodo",
            event_id="evt_1",
            type="subscription.active",
            kind=WebhookKind.SUBSCRIPTION,
            workspace_id=None,
            received_at=T0.astimezone(PLUS_TWO),
            status=WebhookEventStatus.FAILED,
            processed_at=T0.astimezone(PLUS_TWO) + timedelta(seconds=3),
            attempts=4,
            detail="gave up: provider unavailable",
            body=body,
            normalized=b'{"provider":"dodo","event_id":"evt_1"}',
        )

        assert await webhook_event_store.record(event) is True

        stored = await webhook_event_store.get("dodo", "evt_1")
        assert stored == event
        assert stored is not None
        assert _all_utc(stored)
        assert type(stored.body) is bytes
        assert stored.body == body
        assert type(stored.normalized) is bytes
        assert type(stored.kind) is WebhookKind
        assert type(stored.status) is WebhookEventStatus
        assert await webhook_event_store.get("stripe", "evt_1") is None

    async def test_an_event_is_kept_once(self, webhook_event_store: WebhookEventStore) -> None:
        first = an_event("evt_1", body=b"first")
        assert await webhook_event_store.record(first) is True

        again = an_event("evt_1", body=b"second", received_at=T0 + DAY)
        assert await webhook_event_store.record(again) is False

        assert await webhook_event_store.get("stripe", "evt_1") == first
        assert await webhook_event_store.record(an_event("evt_1", provider="dodo")) is True
        assert len(await webhook_event_store.page()) == 2

    async def test_mark_records_each_attempt(self, webhook_event_store: WebhookEventStore) -> None:
        await webhook_event_store.record(an_event("evt_1"))
        at = T0 + timedelta(minutes=1)

        await webhook_event_store.mark(
            "stripe", "evt_1", WebhookEventStatus.FAILED, at=at, detail="boom"
        )
        failed = await webhook_event_store.get("stripe", "evt_1")
        assert failed is not None
        assert (failed.status, failed.attempts, failed.processed_at, failed.detail) == (
            WebhookEventStatus.FAILED,
            1,
            at,
            "boom",
        )

        await webhook_event_store.mark(
            "stripe", "evt_1", WebhookEventStatus.PENDING, at=at + DAY, detail="replayed"
        )
        replayed = await webhook_event_store.get("stripe", "evt_1")
        assert replayed is not None
        assert (replayed.status, replayed.attempts, replayed.processed_at, replayed.detail) == (
            WebhookEventStatus.PENDING,
            1,
            at,
            "replayed",
        )

        later = (at + 2 * DAY).astimezone(PLUS_TWO)
        await webhook_event_store.mark("stripe", "evt_1", WebhookEventStatus.PROCESSED, at=later)
        done = await webhook_event_store.get("stripe", "evt_1")
        assert done is not None
        assert (done.status, done.attempts, done.processed_at, done.detail) == (
            WebhookEventStatus.PROCESSED,
            2,
            later,
            "",
        )
        assert done.processed_at is not None
        assert done.processed_at.utcoffset() == timedelta(0)
        assert done.body == b'{"id": "evt"}'
        assert done.received_at == T0
        assert done.normalized == b""

    async def test_pages_go_from_the_newest_with_filters_and_a_cursor(
        self, webhook_event_store: WebhookEventStore
    ) -> None:
        for event in [
            an_event("evt_a", received_at=T0),
            an_event("evt_b", received_at=T0 + DAY, type="customer.subscription.updated"),
            an_event("evt_c", received_at=T0 + DAY, workspace_id="ws_2"),
            an_event("evt_d", received_at=T0 + 2 * DAY, provider="dodo"),
            an_event("evt_e", received_at=T0 - DAY, workspace_id=None),
        ]:
            await webhook_event_store.record(event)
        await webhook_event_store.mark(
            "stripe", "evt_a", WebhookEventStatus.PROCESSED, at=T0 + 3 * DAY
        )
        await webhook_event_store.mark("stripe", "evt_c", WebhookEventStatus.IGNORED, at=T0)

        async def ids(**filters: object) -> list[str]:
            return [e.event_id for e in await webhook_event_store.page(**filters)]  # type: ignore[arg-type]

        assert await ids() == ["evt_d", "evt_c", "evt_b", "evt_a", "evt_e"]
        assert await ids(limit=2) == ["evt_d", "evt_c"]
        assert await ids(before=(T0 + DAY, "evt_c"), limit=2) == ["evt_b", "evt_a"]
        assert await ids(before=(T0 + DAY, "evt_b")) == ["evt_a", "evt_e"]
        assert await ids(before=(T0 - DAY, "evt_e")) == []
        assert await ids(provider="stripe") == ["evt_c", "evt_b", "evt_a", "evt_e"]
        assert await ids(provider="dodo") == ["evt_d"]
        assert await ids(status=WebhookEventStatus.PENDING) == ["evt_d", "evt_b", "evt_e"]
        assert await ids(status=WebhookEventStatus.PROCESSED) == ["evt_a"]
        assert await ids(type="customer.subscription.updated") == ["evt_b"]
        assert await ids(workspace_id="ws_2") == ["evt_c"]
        assert await ids(workspace_id="ws_1", provider="stripe", before=(T0 + DAY, "evt_b")) == [
            "evt_a"
        ]


class AlertLogContract:
    async def test_an_alert_is_first_once_per_period(self, alert_log: AlertLog) -> None:
        period = T0.replace(day=1)

        assert await alert_log.first("ws_1", "usage:api_calls:80", period, at=T0) is True
        assert await alert_log.first("ws_1", "usage:api_calls:80", period, at=T0 + DAY) is False
        same_instant = period.astimezone(PLUS_TWO)
        assert await alert_log.first("ws_1", "usage:api_calls:80", same_instant, at=T0) is False

        assert await alert_log.first("ws_1", "usage:api_calls:100", period, at=T0) is True
        assert await alert_log.first("ws_2", "usage:api_calls:80", period, at=T0) is True
        next_period = period + 31 * DAY
        assert await alert_log.first("ws_1", "usage:api_calls:80", next_period, at=T0) is True
        assert await alert_log.first("ws_1", "usage:api_calls:80", next_period, at=T0) is False


class UsageReportLogContract:
    async def test_what_was_reported_per_workspace_meter_and_period(
        self, usage_report_log: UsageReportLog
    ) -> None:
        period = T0.replace(day=1)
        assert await usage_report_log.reported("ws_1", "api_calls", period) == 0

        await usage_report_log.set_reported("ws_1", "api_calls", period, 120, at=T0)
        await usage_report_log.set_reported("ws_1", "tokens", period, 7, at=T0)
        await usage_report_log.set_reported("ws_2", "api_calls", period, 9_000_000_000, at=T0)

        assert await usage_report_log.reported("ws_1", "api_calls", period) == 120
        assert await usage_report_log.reported("ws_1", "tokens", period) == 7
        assert await usage_report_log.reported("ws_2", "api_calls", period) == 9_000_000_000
        assert await usage_report_log.reported("ws_1", "api_calls", period + 31 * DAY) == 0
        same_instant = period.astimezone(PLUS_TWO)
        assert await usage_report_log.reported("ws_1", "api_calls", same_instant) == 120

    async def test_a_later_report_replaces_the_quantity(
        self, usage_report_log: UsageReportLog
    ) -> None:
        period = T0.replace(day=1)
        await usage_report_log.set_reported("ws_1", "api_calls", period, 120, at=T0)

        await usage_report_log.set_reported("ws_1", "api_calls", period, 150, at=T0 + DAY)

        assert await usage_report_log.reported("ws_1", "api_calls", period) == 150
