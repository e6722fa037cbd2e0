"""Conformance of the delivery ports: ``DeliveryStore``, ``SuppressionList``,
``ProviderEventLog`` and ``OutboxReader``.

Provide, for each class you run:

- ``DeliveryStoreContract``: ``delivery_store``, the adapter, bound to one open unit of
  work (for SQL, a session that is never committed: everything is read back in it);
- ``SuppressionListContract``: ``suppression_list``;
- ``ProviderEventLogContract``: ``provider_event_log``;
- ``OutboxReaderContract``: ``outbox_reader``; ``email_sender`` and ``sms_sender``, the
  senders whose stored messages it reads; and ``outbox_status``, an async callable
  ``(channel, idempotency_key) -> str | None`` returning the status shown on the
  outbox row (``None`` when there is none).

Times given to the stores are timezone-aware UTC, with microseconds; they come back
equal and in UTC. Updating something that is not stored (``save`` of an unknown
delivery, ``mark_processed`` of an unrecorded report) raises ``LookupError``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from contracts.ports.email import an_email
from contracts.ports.sms import an_sms
from core.kernel import IdGenerator
from core.notifications import Channel, EmailSender, SmsSender
from core.notifications.deliveries import (
    Delivery,
    DeliveryFilter,
    DeliveryStatus,
    DeliveryStore,
    OutboxReader,
    ProviderEvent,
    ProviderEventLog,
    Suppression,
    SuppressionList,
    SuppressionReason,
)

OutboxStatus = Callable[[Channel, str], Awaitable[str | None]]

T0 = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
ids = IdGenerator()
S = DeliveryStatus


def a_delivery(key: str, **changes: object) -> Delivery:
    delivery = Delivery(
        id=ids.new("dlv", T0),
        idempotency_key=key,
        notification_type="contracts.welcome",
        category="account",
        channel=Channel.EMAIL,
        user_id="usr_contracts1",
        workspace_id="ws_contracts1",
        address="ada@example.com",
        status=S.QUEUED,
        queued_at=T0,
        updated_at=T0,
    )
    return msgspec.structs.replace(delivery, **changes)


def assert_utc(*moments: datetime | None) -> None:
    for moment in moments:
        assert moment is None or moment.utcoffset() == timedelta(0), moment


def _timestamps(d: Delivery) -> list[datetime | None]:
    return [
        d.queued_at,
        d.sent_at,
        d.delivered_at,
        d.bounced_at,
        d.complained_at,
        d.failed_at,
        d.suppressed_at,
        d.updated_at,
    ]


# Each path: the moves (status, extra fields) from queued, one second apart.
PATHS: dict[str, list[tuple[DeliveryStatus, dict[str, str]]]] = {
    "delivered-then-complained": [
        (S.SENT, {"provider": "resend", "provider_message_id": "re_1"}),
        (S.DELIVERED, {}),
        (S.COMPLAINED, {}),
    ],
    "sent-then-bounced": [
        (S.SENT, {"provider": "outbox", "provider_message_id": "eml_1"}),
        (S.BOUNCED, {"error": "550 5.1.1 no such user — ünïcødé"}),
    ],
    "delivered-then-bounced": [(S.DELIVERED, {"provider": "resend"}), (S.BOUNCED, {})],
    "failed": [(S.FAILED, {"provider": "resend", "error": "429 rate limited " * 80})],
    "suppressed": [(S.SUPPRESSED, {})],
}


class DeliveryStoreContract:
    async def test_an_added_delivery_is_found_by_id_and_by_key(
        self, delivery_store: DeliveryStore
    ) -> None:
        delivery = a_delivery("contracts.add:email")

        assert await delivery_store.add(delivery) is True

        assert await delivery_store.get(delivery.id) == delivery
        assert await delivery_store.by_key("contracts.add:email") == delivery
        assert await delivery_store.get("dlv_unknown") is None
        assert await delivery_store.by_key("contracts.unknown:email") is None

    async def test_a_used_key_is_not_added_again_and_the_first_stays(
        self, delivery_store: DeliveryStore
    ) -> None:
        first = a_delivery("contracts.twice:email")
        second = a_delivery("contracts.twice:email", address="bob@example.com")

        assert await delivery_store.add(first) is True
        assert await delivery_store.add(second) is False
        assert await delivery_store.add(first) is False

        assert await delivery_store.by_key("contracts.twice:email") == first
        assert await delivery_store.get(second.id) is None

    async def test_a_delivery_with_no_user_or_workspace_round_trips(
        self, delivery_store: DeliveryStore
    ) -> None:
        delivery = a_delivery(
            "contracts.invited:sms",
            channel=Channel.SMS,
            address="+14155550123",
            user_id=None,
            workspace_id=None,
        )

        await delivery_store.add(delivery)

        assert await delivery_store.get(delivery.id) == delivery

    @pytest.mark.parametrize("path", list(PATHS))
    async def test_each_state_change_is_saved_with_every_field(
        self, delivery_store: DeliveryStore, path: str
    ) -> None:
        delivery = a_delivery(f"contracts.path.{path}:email")
        await delivery_store.add(delivery)

        for step, (status, fields) in enumerate(PATHS[path], start=1):
            delivery = delivery.move(status, T0 + timedelta(seconds=step), **fields)
            await delivery_store.save(delivery)

            stored = await delivery_store.get(delivery.id)
            assert stored == delivery
            assert stored.status is status
            assert_utc(*_timestamps(stored))
        assert await delivery_store.by_key(delivery.idempotency_key) == delivery

    async def test_saving_a_delivery_that_was_never_added_raises_lookup_error(
        self, delivery_store: DeliveryStore
    ) -> None:
        with pytest.raises(LookupError):
            await delivery_store.save(a_delivery("contracts.never:email"))

    async def test_a_delivery_is_found_by_its_providers_message_id(
        self, delivery_store: DeliveryStore
    ) -> None:
        queued = a_delivery("contracts.provider:email")
        other = a_delivery("contracts.provider-other:email")
        await delivery_store.add(queued)
        await delivery_store.add(other)
        sent = queued.move(S.SENT, T0, provider="resend", provider_message_id="re_42")
        await delivery_store.save(sent)

        assert await delivery_store.by_provider_message("resend", "re_42") == sent
        assert await delivery_store.by_provider_message("outbox", "re_42") is None
        assert await delivery_store.by_provider_message("resend", "re_43") is None

    async def test_a_page_is_newest_first_and_goes_on_below_before(
        self, delivery_store: DeliveryStore
    ) -> None:
        added = [a_delivery(f"contracts.page.{n}:email") for n in range(5)]
        for delivery in added:
            await delivery_store.add(delivery)
        newest_first = [d.id for d in reversed(added)]

        everything = DeliveryFilter()
        first = await delivery_store.page(everything, before=None, limit=2)
        second = await delivery_store.page(everything, before=first[-1].id, limit=2)
        last = await delivery_store.page(everything, before=second[-1].id, limit=2)

        assert [d.id for d in [*first, *second, *last]] == newest_first
        assert await delivery_store.page(everything, before=added[0].id, limit=2) == []
        assert list(await delivery_store.page(everything, before=None, limit=10)) == [
            *reversed(added)
        ]

    async def test_a_page_keeps_only_what_the_filter_names(
        self, delivery_store: DeliveryStore
    ) -> None:
        email = a_delivery("contracts.f.1:email")
        sms = a_delivery(
            "contracts.f.1:sms",
            channel=Channel.SMS,
            address="+14155550123",
            notification_type="contracts.code",
        )
        bob = a_delivery("contracts.f.2:email", address="bob@example.com", user_id="usr_bob")
        for delivery in (email, sms, bob):
            await delivery_store.add(delivery)
        sent = bob.move(S.SENT, T0, provider="outbox")
        await delivery_store.save(sent)

        async def keys(query: DeliveryFilter) -> list[str]:
            found = await delivery_store.page(query, before=None, limit=10)
            return [d.idempotency_key for d in found]

        where = DeliveryFilter
        assert await keys(where(channel=Channel.SMS)) == ["contracts.f.1:sms"]
        assert await keys(where(channel=Channel.IN_APP)) == []
        assert await keys(where(status=S.SENT)) == ["contracts.f.2:email"]
        assert await keys(where(status=S.QUEUED)) == ["contracts.f.1:sms", "contracts.f.1:email"]
        assert await keys(where(address="ada@example.com")) == ["contracts.f.1:email"]
        assert await keys(where(user_id="usr_bob")) == ["contracts.f.2:email"]
        assert await keys(where(notification_type="contracts.code")) == ["contracts.f.1:sms"]
        assert await keys(where(channel=Channel.EMAIL, status=S.QUEUED)) == ["contracts.f.1:email"]

    async def test_a_page_needs_a_positive_limit(self, delivery_store: DeliveryStore) -> None:
        with pytest.raises(ValueError, match="limit"):
            await delivery_store.page(DeliveryFilter(), before=None, limit=0)


def a_suppression(address: str, **changes: object) -> Suppression:
    suppression = Suppression(
        address=address,
        reason=SuppressionReason.BOUNCE,
        detail="550 5.1.1 user unknown",
        delivery_id="dlv_contracts1",
        created_at=T0,
    )
    return msgspec.structs.replace(suppression, **changes)


class SuppressionListContract:
    async def test_a_suppressed_address_is_found_with_every_field(
        self, suppression_list: SuppressionList
    ) -> None:
        suppression = a_suppression("ada@example.com")

        assert await suppression_list.add(suppression) is True

        assert await suppression_list.get("ada@example.com") == suppression
        assert await suppression_list.get("bob@example.com") is None
        stored = await suppression_list.get("ada@example.com")
        assert stored is not None
        assert_utc(stored.created_at)

    async def test_optional_fields_may_be_empty(self, suppression_list: SuppressionList) -> None:
        manual = a_suppression(
            "ops@example.com", reason=SuppressionReason.MANUAL, detail=None, delivery_id=None
        )

        await suppression_list.add(manual)

        assert await suppression_list.get("ops@example.com") == manual

    async def test_suppressing_twice_keeps_the_first_reason(
        self, suppression_list: SuppressionList
    ) -> None:
        first = a_suppression("ada@example.com")
        again = a_suppression(
            "ADA@example.com",
            reason=SuppressionReason.COMPLAINT,
            detail="spam",
            created_at=T0 + timedelta(days=1),
        )

        assert await suppression_list.add(first) is True
        assert await suppression_list.add(again) is False

        assert await suppression_list.get("ada@example.com") == first

    async def test_addresses_are_stored_lowercased_and_found_in_any_case(
        self, suppression_list: SuppressionList
    ) -> None:
        await suppression_list.add(a_suppression("  Ada.Lovelace@Example.COM "))

        stored = await suppression_list.get("ada.lovelace@example.com")
        assert stored is not None
        assert stored.address == "ada.lovelace@example.com"
        assert await suppression_list.get("ADA.LOVELACE@EXAMPLE.COM") == stored

    async def test_a_removed_address_is_no_longer_suppressed(
        self, suppression_list: SuppressionList
    ) -> None:
        await suppression_list.add(a_suppression("ada@example.com"))
        await suppression_list.add(a_suppression("bob@example.com"))

        assert await suppression_list.remove("Ada@Example.com") is True
        assert await suppression_list.remove("ada@example.com") is False

        assert await suppression_list.get("ada@example.com") is None
        assert await suppression_list.get("bob@example.com") is not None
        assert await suppression_list.add(a_suppression("ada@example.com")) is True

    async def test_a_page_is_by_address_and_goes_on_after_the_last_one(
        self, suppression_list: SuppressionList
    ) -> None:
        addresses = ["z@x.io", "ab@x.io", "a.b@x.io", "a+b@x.io", "a_b@x.io", "A-b@x.io"]
        for address in addresses:
            await suppression_list.add(a_suppression(address))
        expected = sorted(address.lower() for address in addresses)

        seen: list[str] = []
        after = None
        while page := await suppression_list.page(after=after, limit=4):
            seen += [s.address for s in page]
            after = page[-1].address

        assert seen == expected
        assert await suppression_list.page(after="zz@x.io", limit=4) == []
        with pytest.raises(ValueError, match="limit"):
            await suppression_list.page(after=None, limit=0)


def an_event(event_id: str = "evt_1", **changes: object) -> ProviderEvent:
    event = ProviderEvent(
        provider="resend",
        event_id=event_id,
        event_type="email.bounced",
        message_id="re_42",
        status=S.BOUNCED,
        occurred_at=T0,
        permanent=True,
        detail="550 5.1.1",
    )
    return msgspec.structs.replace(event, **changes)


PAYLOAD = b'{"type":"email.bounced","data":{"email_id":"re_42"}}\x00\xff'


class ProviderEventLogContract:
    async def test_a_recorded_report_is_kept_unprocessed_with_its_payload(
        self, provider_event_log: ProviderEventLog
    ) -> None:
        assert await provider_event_log.record(an_event(), PAYLOAD, T0) is True

        stored = await provider_event_log.get("resend", "evt_1")
        assert stored is not None
        assert (stored.provider, stored.event_id) == ("resend", "evt_1")
        assert (stored.event_type, stored.message_id) == ("email.bounced", "re_42")
        assert stored.payload == PAYLOAD
        assert stored.received_at == T0
        assert_utc(stored.received_at)
        assert (stored.processed_at, stored.outcome) == (None, None)
        assert await provider_event_log.get("resend", "evt_2") is None

    async def test_a_report_recorded_twice_keeps_the_first(
        self, provider_event_log: ProviderEventLog
    ) -> None:
        later = T0 + timedelta(minutes=5)

        assert await provider_event_log.record(an_event(), PAYLOAD, T0) is True
        assert await provider_event_log.record(an_event(), b"{}", later) is False

        stored = await provider_event_log.get("resend", "evt_1")
        assert stored is not None
        assert (stored.payload, stored.received_at) == (PAYLOAD, T0)

    async def test_one_event_id_at_two_providers_is_two_reports(
        self, provider_event_log: ProviderEventLog
    ) -> None:
        assert await provider_event_log.record(an_event(), PAYLOAD, T0) is True
        assert await provider_event_log.record(an_event(provider="other"), b"{}", T0) is True

        other = await provider_event_log.get("other", "evt_1")
        assert other is not None
        assert other.payload == b"{}"

    async def test_a_processed_report_keeps_when_and_what_came_of_it(
        self, provider_event_log: ProviderEventLog
    ) -> None:
        await provider_event_log.record(an_event(), PAYLOAD, T0)
        await provider_event_log.record(an_event("evt_2"), PAYLOAD, T0)
        done = T0 + timedelta(seconds=3)

        await provider_event_log.mark_processed("resend", "evt_1", done, "applied")

        stored = await provider_event_log.get("resend", "evt_1")
        assert stored is not None
        assert (stored.processed_at, stored.outcome) == (done, "applied")
        assert_utc(stored.processed_at)
        untouched = await provider_event_log.get("resend", "evt_2")
        assert untouched is not None
        assert untouched.processed_at is None

    async def test_marking_an_unrecorded_report_raises_lookup_error(
        self, provider_event_log: ProviderEventLog
    ) -> None:
        with pytest.raises(LookupError):
            await provider_event_log.mark_processed("resend", "evt_missing", T0, "ignored")


class OutboxReaderContract:
    async def test_a_stored_email_is_read_back_with_its_headers(
        self, outbox_reader: OutboxReader, email_sender: EmailSender
    ) -> None:
        headers = {
            "List-Unsubscribe": "<https://app.example.com/u/abc>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
        message = an_email("contracts.reader.email", headers=headers)
        plain = an_email("contracts.reader.plain", html=None)
        await email_sender.send(message)
        await email_sender.send(plain)

        assert await outbox_reader.email("contracts.reader.email") == message
        assert await outbox_reader.email("contracts.reader.plain") == plain
        assert await outbox_reader.email("contracts.reader.unknown") is None

    async def test_a_stored_sms_is_read_back(
        self, outbox_reader: OutboxReader, sms_sender: SmsSender
    ) -> None:
        message = an_sms("contracts.reader.sms", body="Grüße 🔑 123456")
        await sms_sender.send(message)

        assert await outbox_reader.sms("contracts.reader.sms") == message
        assert await outbox_reader.sms("contracts.reader.unknown") is None
        assert await outbox_reader.email("contracts.reader.sms") is None

    async def test_mark_shows_a_deliverys_state_on_its_outbox_row_only(
        self,
        outbox_reader: OutboxReader,
        email_sender: EmailSender,
        sms_sender: SmsSender,
        outbox_status: OutboxStatus,
    ) -> None:
        await email_sender.send(an_email("contracts.mark.1"))
        await email_sender.send(an_email("contracts.mark.2"))
        await sms_sender.send(an_sms("contracts.mark.1"))

        await outbox_reader.mark(Channel.EMAIL, "contracts.mark.1", S.SENT)
        await outbox_reader.mark(Channel.EMAIL, "contracts.mark.1", S.DELIVERED)
        await outbox_reader.mark(Channel.SMS, "contracts.mark.1", S.FAILED)

        assert await outbox_status(Channel.EMAIL, "contracts.mark.1") == "delivered"
        assert await outbox_status(Channel.EMAIL, "contracts.mark.2") == "queued"
        assert await outbox_status(Channel.SMS, "contracts.mark.1") == "failed"

    async def test_mark_of_an_in_app_or_unknown_message_changes_nothing(
        self, outbox_reader: OutboxReader, outbox_status: OutboxStatus
    ) -> None:
        await outbox_reader.mark(Channel.IN_APP, "contracts.mark.inbox", S.DELIVERED)
        await outbox_reader.mark(Channel.EMAIL, "contracts.mark.unknown", S.SENT)

        assert await outbox_status(Channel.EMAIL, "contracts.mark.unknown") is None
