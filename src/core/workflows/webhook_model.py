"""Outbound webhooks: a workspace's endpoints, the attempts to deliver to them, and the
payload they receive."""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

import msgspec

from core.kernel import DomainEvent
from core.kernel.events import AwareDatetime

ALL_EVENTS = "*"
ENDPOINT_ID_PREFIX = "whe"
DELIVERY_ID_PREFIX = "whd"
TEST_EVENT_TYPE = "webhook.test"
DESCRIPTION_MAX_LENGTH = 500
EXCERPT_MAX_BYTES = 1024


class WebhookEndpoint(msgspec.Struct, frozen=True, kw_only=True):
    """Where a workspace wants its events sent, and which ones (``events``: event
    types, or ``["*"]`` for all).

    The secret signs every delivery; it is stored as is (signing needs it) and shown
    only when created or rotated. After a rotation the previous secret stays valid until
    ``previous_secret_expires_at`` and deliveries carry a signature by each.

    ``failing_since`` is the first failed attempt since the last success, and
    ``consecutive_failures`` counts failed attempts since then: they decide when an
    endpoint that keeps failing is disabled (``disabled_at``, ``disabled_reason``).
    """

    id: str
    workspace_id: str
    url: str
    description: str = ""
    events: tuple[str, ...] = (ALL_EVENTS,)
    secret: str
    previous_secret: str | None = None
    previous_secret_expires_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    disabled_at: datetime | None = None
    disabled_reason: str | None = None
    failing_since: datetime | None = None
    consecutive_failures: int = 0

    @property
    def enabled(self) -> bool:
        return self.disabled_at is None

    def accepts(self, event_type: str) -> bool:
        """Whether the filter lets ``event_type`` through."""
        return ALL_EVENTS in self.events or event_type in self.events

    def signing_secrets(self, now: datetime) -> list[str]:
        """The secrets a delivery sent ``now`` is signed with: the current one, and the
        previous one while its grace period lasts."""
        found = [self.secret]
        expires = self.previous_secret_expires_at
        if self.previous_secret and expires is not None and now < expires:
            found.append(self.previous_secret)
        return found

    def rotated(self, new_secret: str, now: datetime, grace: timedelta) -> WebhookEndpoint:
        return msgspec.structs.replace(
            self,
            secret=new_secret,
            previous_secret=self.secret,
            previous_secret_expires_at=now + grace,
            updated_at=now,
        )


class DeliveryStatus(enum.StrEnum):
    """How one attempt ended: ``succeeded`` (a 2xx answer), ``retrying`` (it failed and
    another attempt is scheduled) or ``failed`` (it failed and no other attempt follows:
    attempts spent, endpoint gone or disabled)."""

    SUCCEEDED = "succeeded"
    RETRYING = "retrying"
    FAILED = "failed"


class DeliveryTrigger(enum.StrEnum):
    """Why a delivery was sent: an event, a redelivery someone asked for, or a test."""

    EVENT = "event"
    REDELIVERY = "redelivery"
    TEST = "test"


class WebhookDelivery(msgspec.Struct, frozen=True, kw_only=True):
    """One attempt to deliver one event to one endpoint: the delivery log's row.

    ``body`` is the exact JSON sent (redeliveries send it again); ``response_excerpt``
    holds at most the first KB of the answer. ``status_code`` and ``latency_ms`` are
    empty when no answer came (``error`` then says why)."""

    id: str
    workspace_id: str
    endpoint_id: str
    event_id: str
    event_type: str
    message_id: str
    trigger: DeliveryTrigger
    attempt: int
    status: DeliveryStatus
    url: str
    body: bytes
    created_at: datetime
    status_code: int | None = None
    latency_ms: int | None = None
    response_excerpt: str = ""
    error: str | None = None


class DeliveryPage(msgspec.Struct, frozen=True, kw_only=True):
    deliveries: list[WebhookDelivery]
    next_cursor: str | None
    """The id to pass as ``cursor`` for the next (older) page; None on the last page."""


class DeliveryScheduled(msgspec.Struct, frozen=True, kw_only=True):
    """A redelivery or test the worker will send shortly."""

    endpoint_id: str
    event_id: str
    event_type: str
    message_id: str


class WebhookResponse(msgspec.Struct, frozen=True, kw_only=True):
    """What an endpoint answered: its status, the first KB of its body (as text), how
    long it took, and its ``Retry-After`` header, if any, as sent."""

    status_code: int
    body_excerpt: str = ""
    latency_ms: int
    retry_after: str | None = None

    @property
    def succeeded(self) -> bool:
        return 200 <= self.status_code < 300


class WebhookPayload(msgspec.Struct, frozen=True, kw_only=True):
    """The JSON body of every delivery (schema: contracts/events/webhook.envelope.json).

    ``id`` is the event's id (the same for every endpoint), ``type`` its name,
    ``timestamp`` when it happened, and ``data`` its fields as in
    ``contracts/events/<type>.json``."""

    id: str
    type: str
    timestamp: AwareDatetime
    data: msgspec.Raw


class WebhookTest(DomainEvent, frozen=True, kw_only=True):
    """A test delivery someone asked for, to see that an endpoint receives and verifies
    webhooks. Never raised as a domain event; only sent."""

    name = TEST_EVENT_TYPE

    workspace_id: str
    endpoint_id: str
    message: str = "This is a test webhook from ninefold."


class WebhookPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """The rules of outbound webhooks, from settings.

    - ``allow_private_urls``: http and private addresses allowed (development, tests);
    - ``max_endpoints``: per workspace;
    - ``timeout_seconds``: for one attempt, connection to last byte read;
    - ``disable_after``: an endpoint with no successful delivery since its first
      failure this long ago is disabled at its next failure;
    - ``secret_grace``: how long a rotated-out secret still signs;
    - ``max_retry_after``: the longest ``Retry-After`` honoured (longer ones are cut).
    """

    allow_private_urls: bool = False
    max_endpoints: int = 20
    timeout_seconds: float = 10.0
    disable_after: timedelta = timedelta(days=5)
    secret_grace: timedelta = timedelta(hours=24)
    max_retry_after: timedelta = timedelta(hours=1)
