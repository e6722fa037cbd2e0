"""Deliveries: one per notification and channel, and the states each moves through.

    queued ──> sent ──> delivered ──> complained | bounced
       │         ├────> bounced | complained | failed
       ├──> failed
       └──> suppressed

``queued``: recorded and waiting for the delivery job. ``sent``: the provider (or the
outbox, when no provider is configured) accepted it. ``delivered``, ``bounced`` and
``complained`` come from the provider's delivery webhooks; a complaint or a late bounce
may follow a delivery. ``failed``: the provider refused it, or kept failing until the
job's attempts ran out. ``suppressed``: the address is on the suppression list, so
nothing was attempted. In-app notifications are ``delivered`` as soon as they are
stored.

Webhooks arrive late, twice and out of order; ``Delivery.advance`` ignores a move that
is not forward (a ``delivered`` after a ``bounced``), so the state never goes backwards.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import msgspec

from core.notifications.catalog import Channel
from core.notifications.errors import InvalidDeliveryTransitionError
from core.notifications.model import EmailMessage
from core.notifications.sms import SmsMessage


class DeliveryStatus(enum.StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    FAILED = "failed"
    SUPPRESSED = "suppressed"


_S = DeliveryStatus
ALLOWED_MOVES: dict[DeliveryStatus, frozenset[DeliveryStatus]] = {
    _S.QUEUED: frozenset({_S.SENT, _S.DELIVERED, _S.FAILED, _S.SUPPRESSED}),
    _S.SENT: frozenset({_S.DELIVERED, _S.BOUNCED, _S.COMPLAINED, _S.FAILED}),
    _S.DELIVERED: frozenset({_S.BOUNCED, _S.COMPLAINED}),
    _S.BOUNCED: frozenset(),
    _S.COMPLAINED: frozenset(),
    _S.FAILED: frozenset(),
    _S.SUPPRESSED: frozenset(),
}


def may_move(current: DeliveryStatus, to: DeliveryStatus) -> bool:
    return to in ALLOWED_MOVES[current]


class Delivery(msgspec.Struct, frozen=True, kw_only=True):
    """One notification on one channel to one address."""

    id: str
    idempotency_key: str  # <request key>:<channel>
    notification_type: str
    category: str
    channel: Channel
    user_id: str | None
    workspace_id: str | None
    address: str  # an email address, an E.164 number or a user id (in-app)
    status: DeliveryStatus
    provider: str | None = None  # who took it: "outbox", "resend", "inbox"
    provider_message_id: str | None = None
    error: str | None = None
    queued_at: datetime
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    bounced_at: datetime | None = None
    complained_at: datetime | None = None
    failed_at: datetime | None = None
    suppressed_at: datetime | None = None
    updated_at: datetime

    def move(
        self,
        to: DeliveryStatus,
        at: datetime,
        *,
        provider: str | None = None,
        provider_message_id: str | None = None,
        error: str | None = None,
    ) -> Delivery:
        """The delivery in state ``to`` since ``at``; raises
        ``InvalidDeliveryTransitionError`` for a move the state machine forbids."""
        if not may_move(self.status, to):
            raise InvalidDeliveryTransitionError(
                f"delivery {self.id} cannot go from {self.status} to {to}",
                delivery_id=self.id,
                status=self.status.value,
            )
        changes: dict[str, object] = {"status": to, "updated_at": at, f"{to.value}_at": at}
        if to is DeliveryStatus.DELIVERED and self.sent_at is None:
            changes["sent_at"] = at  # a provider may report delivery before we saw "sent"
        if provider is not None:
            changes["provider"] = provider
        if provider_message_id is not None:
            changes["provider_message_id"] = provider_message_id
        if error is not None:
            changes["error"] = error[:1000]
        return msgspec.structs.replace(self, **changes)

    def advance(self, to: DeliveryStatus, at: datetime, **fields: str | None) -> Delivery | None:
        """Like ``move``, for reports that may come late or twice: ``None`` (nothing to
        change) when the move is not forward from the current state."""
        if not may_move(self.status, to):
            return None
        return self.move(to, at, **fields)


class DeliveryFilter(msgspec.Struct, frozen=True, kw_only=True):
    channel: Channel | None = None
    status: DeliveryStatus | None = None
    address: str | None = None
    user_id: str | None = None
    notification_type: str | None = None


class DeliveryStore(Protocol):
    """Where deliveries are kept, in the caller's transaction."""

    async def add(self, delivery: Delivery) -> bool:
        """Record a new delivery; ``False`` (and nothing changed) when one with the same
        ``idempotency_key`` exists already."""
        ...

    async def get(self, delivery_id: str) -> Delivery | None: ...

    async def by_key(self, idempotency_key: str) -> Delivery | None: ...

    async def by_provider_message(self, provider: str, message_id: str) -> Delivery | None: ...

    async def save(self, delivery: Delivery) -> None:
        """Store a delivery's new state (``Delivery.move`` made it)."""
        ...

    async def page(
        self, query: DeliveryFilter, *, before: str | None, limit: int
    ) -> Sequence[Delivery]:
        """Newest first, those with an id lower than ``before`` when given."""
        ...


class SuppressionReason(enum.StrEnum):
    BOUNCE = "bounce"  # a hard (permanent) bounce
    COMPLAINT = "complaint"  # the recipient marked a message as spam
    MANUAL = "manual"  # staff added it


class Suppression(msgspec.Struct, frozen=True, kw_only=True):
    """An email address that is sent nothing more: the provider said it does not exist
    or its owner complained. Addresses are kept lowercased."""

    address: str
    reason: SuppressionReason
    detail: str | None = None
    delivery_id: str | None = None
    created_at: datetime


class SuppressionList(Protocol):
    async def get(self, address: str) -> Suppression | None: ...

    async def add(self, suppression: Suppression) -> bool:
        """Suppress an address; ``False`` when it was suppressed already (the first
        reason is kept)."""
        ...

    async def remove(self, address: str) -> bool: ...

    async def page(self, *, after: str | None, limit: int) -> Sequence[Suppression]:
        """By address, those after ``after`` when given."""
        ...


def normalize_address(address: str) -> str:
    return address.strip().lower()


class ProviderEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A provider's report about a message it took, in the provider's neutral form (an
    adapter turns a verified webhook into this).

    ``status`` is where the delivery moves (sent, delivered, bounced, complained,
    failed); ``None`` for reports that change no state (opened, clicked, delayed),
    which are kept but not applied. ``permanent`` tells a hard bounce (the address
    does not exist: suppress it) from a soft one."""

    provider: str
    event_id: str  # the provider's id of this report, unique per provider
    event_type: str  # the provider's own name for it, e.g. "email.bounced"
    message_id: str  # the provider's id of the message
    status: DeliveryStatus | None
    occurred_at: datetime
    permanent: bool = False
    detail: str | None = None


class StoredProviderEvent(msgspec.Struct, frozen=True, kw_only=True):
    provider: str
    event_id: str
    event_type: str
    message_id: str
    payload: bytes  # the body as received, verified
    received_at: datetime
    processed_at: datetime | None = None
    outcome: str | None = None  # "applied", "ignored", "unmatched"


class ProviderEventLog(Protocol):
    """Every verified provider report, kept once per ``(provider, event_id)``: a
    provider that sends a report twice finds it recorded already."""

    async def record(self, event: ProviderEvent, payload: bytes, received_at: datetime) -> bool:
        """``False`` (and nothing changed) when this report was recorded already."""
        ...

    async def get(self, provider: str, event_id: str) -> StoredProviderEvent | None: ...

    async def mark_processed(
        self, provider: str, event_id: str, at: datetime, outcome: str
    ) -> None: ...


class OutboxReader(Protocol):
    """The stored messages a delivery job hands to a provider, by delivery key."""

    async def email(self, idempotency_key: str) -> EmailMessage | None: ...

    async def sms(self, idempotency_key: str) -> SmsMessage | None: ...

    async def mark(self, channel: Channel, idempotency_key: str, status: DeliveryStatus) -> None:
        """Mirror a delivery's state on its outbox row, for people reading the outbox."""
        ...
