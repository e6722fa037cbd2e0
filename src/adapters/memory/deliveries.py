"""In-memory fakes of the delivery ports: ``DeliveryStore``, ``SuppressionList``,
``ProviderEventLog`` and ``OutboxReader``. They behave like the SQL adapters and pass
the same conformance suites; like the other fakes they ignore transactions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import msgspec

from adapters.memory.notifications import InMemoryEmailSender
from adapters.memory.sms import InMemorySmsSender
from core.notifications import Channel, EmailMessage, SmsMessage
from core.notifications.deliveries import (
    Delivery,
    DeliveryFilter,
    DeliveryStatus,
    ProviderEvent,
    StoredProviderEvent,
    Suppression,
    normalize_address,
)


def _check_limit(limit: int) -> None:
    if limit < 1:
        raise ValueError("limit must be at least 1")


class InMemoryDeliveryStore:
    def __init__(self) -> None:
        self.deliveries: dict[str, Delivery] = {}
        self._by_key: dict[str, str] = {}

    async def add(self, delivery: Delivery) -> bool:
        if delivery.idempotency_key in self._by_key:
            return False
        self.deliveries[delivery.id] = delivery
        self._by_key[delivery.idempotency_key] = delivery.id
        return True

    async def get(self, delivery_id: str) -> Delivery | None:
        return self.deliveries.get(delivery_id)

    async def by_key(self, idempotency_key: str) -> Delivery | None:
        delivery_id = self._by_key.get(idempotency_key)
        return None if delivery_id is None else self.deliveries[delivery_id]

    async def by_provider_message(self, provider: str, message_id: str) -> Delivery | None:
        for delivery in self.deliveries.values():
            if delivery.provider == provider and delivery.provider_message_id == message_id:
                return delivery
        return None

    async def save(self, delivery: Delivery) -> None:
        """``LookupError`` when no delivery has its id."""
        earlier = self.deliveries.get(delivery.id)
        if earlier is None:
            raise LookupError(f"no delivery {delivery.id} to save")
        del self._by_key[earlier.idempotency_key]
        self._by_key[delivery.idempotency_key] = delivery.id
        self.deliveries[delivery.id] = delivery

    async def page(
        self, query: DeliveryFilter, *, before: str | None, limit: int
    ) -> Sequence[Delivery]:
        _check_limit(limit)
        wanted = {
            name: value
            for name in ("channel", "status", "address", "user_id", "notification_type")
            if (value := getattr(query, name)) is not None
        }
        found = [
            d
            for d in self.deliveries.values()
            if (before is None or d.id < before)
            and all(getattr(d, name) == value for name, value in wanted.items())
        ]
        return sorted(found, key=lambda d: d.id, reverse=True)[:limit]


class InMemorySuppressionList:
    def __init__(self) -> None:
        self.suppressions: dict[str, Suppression] = {}

    async def get(self, address: str) -> Suppression | None:
        return self.suppressions.get(normalize_address(address))

    async def add(self, suppression: Suppression) -> bool:
        address = normalize_address(suppression.address)
        if address in self.suppressions:
            return False
        self.suppressions[address] = msgspec.structs.replace(suppression, address=address)
        return True

    async def remove(self, address: str) -> bool:
        return self.suppressions.pop(normalize_address(address), None) is not None

    async def page(self, *, after: str | None, limit: int) -> Sequence[Suppression]:
        _check_limit(limit)
        start = None if after is None else normalize_address(after)
        addresses = sorted(a for a in self.suppressions if start is None or a > start)
        return [self.suppressions[a] for a in addresses[:limit]]


class InMemoryProviderEventLog:
    def __init__(self) -> None:
        self.events: dict[tuple[str, str], StoredProviderEvent] = {}

    async def record(self, event: ProviderEvent, payload: bytes, received_at: datetime) -> bool:
        key = (event.provider, event.event_id)
        if key in self.events:
            return False
        self.events[key] = StoredProviderEvent(
            provider=event.provider,
            event_id=event.event_id,
            event_type=event.event_type,
            message_id=event.message_id,
            payload=bytes(payload),
            received_at=received_at,
        )
        return True

    async def get(self, provider: str, event_id: str) -> StoredProviderEvent | None:
        return self.events.get((provider, event_id))

    async def mark_processed(
        self, provider: str, event_id: str, at: datetime, outcome: str
    ) -> None:
        """``LookupError`` when the report was never recorded."""
        stored = self.events.get((provider, event_id))
        if stored is None:
            raise LookupError(f"no {provider} event {event_id} to mark processed")
        self.events[(provider, event_id)] = msgspec.structs.replace(
            stored, processed_at=at, outcome=outcome
        )


class InMemoryOutboxReader:
    """Reads what the fake senders kept (their ``sent`` lists); ``statuses`` holds what
    ``mark`` set, per channel and key (``queued`` until then)."""

    def __init__(
        self, emails: InMemoryEmailSender | None = None, sms: InMemorySmsSender | None = None
    ) -> None:
        self.emails = emails if emails is not None else InMemoryEmailSender()
        self.sms_sender = sms if sms is not None else InMemorySmsSender()
        self.statuses: dict[tuple[Channel, str], DeliveryStatus] = {}

    async def email(self, idempotency_key: str) -> EmailMessage | None:
        return next((m for m in self.emails.sent if m.idempotency_key == idempotency_key), None)

    async def sms(self, idempotency_key: str) -> SmsMessage | None:
        found = (m for m in self.sms_sender.sent if m.idempotency_key == idempotency_key)
        return next(found, None)

    async def mark(self, channel: Channel, idempotency_key: str, status: DeliveryStatus) -> None:
        """Nothing for in-app notifications or for a key no sender kept."""
        stored = {
            Channel.EMAIL: self.email,
            Channel.SMS: self.sms,
        }.get(channel)
        if stored is not None and await stored(idempotency_key) is not None:
            self.statuses[(channel, idempotency_key)] = DeliveryStatus(status)

    def status(self, channel: Channel, idempotency_key: str) -> DeliveryStatus | None:
        """The outbox status of a kept message (``queued`` until marked); ``None`` when
        no sender kept it."""
        kept = self.emails.sent if channel is Channel.EMAIL else self.sms_sender.sent
        if channel is Channel.IN_APP or all(m.idempotency_key != idempotency_key for m in kept):
            return None
        return self.statuses.get((channel, idempotency_key), DeliveryStatus.QUEUED)
