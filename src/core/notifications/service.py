"""Sending a notification: the use case every system calls.

``NotificationService.notify`` runs inside the caller's unit of work. For a request it

1. looks up the type in the catalog;
2. picks the channels: the type's, narrowed by the recipient's preferences (unless the
   type is mandatory) and by what can reach them (an address, a number, an account);
3. for each channel, unless a delivery with the key ``<request key>:<channel>`` exists
   (then that one is the answer: a retried request sends nothing more), renders the
   templates and records the delivery, and
   - email: a suppressed address gets a ``suppressed`` delivery and nothing else;
     otherwise the message goes to the mail outbox and a delivery job is queued;
   - SMS: the message goes to the SMS outbox and a delivery job is queued;
   - in-app: the notification goes into the person's inbox, delivered at once.

Everything is written in the caller's transaction: a request whose transaction rolls
back leaves no delivery, no message and no job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import quote

from core.kernel import Clock, IdGenerator
from core.notifications.catalog import Channel, NotificationCatalog, NotificationType, channels_for
from core.notifications.deliveries import (
    Delivery,
    DeliveryStatus,
    DeliveryStore,
    SuppressionList,
    normalize_address,
)
from core.notifications.inbox import InAppNotification, InboxStore
from core.notifications.model import EmailMessage, NotificationRequest, Recipient, Rendered
from core.notifications.ports import EmailSender, SmsSender
from core.notifications.preferences import PreferenceStore
from core.notifications.rendering import TemplateRenderer
from core.notifications.sms import SmsMessage
from core.notifications.unsubscribe import UnsubscribeTokens

DELIVERY_ID_PREFIX = "dlv"
INBOX_ID_PREFIX = "ntf"
UNSUBSCRIBE_PATH = "/api/v1/notifications/unsubscribe"
PREFERENCES_PATH = "/settings/notifications"
IDEMPOTENCY_KEY_MAX = 240  # leaves room for ":<channel>" in the 255 of the stores


BATCH_SIZE = 100  # emails per batch job: Resend's limit per batch call


class Notifier(Protocol):
    """What other systems call to notify someone (``NotificationService`` is one)."""

    async def notify(self, request: NotificationRequest) -> tuple[Delivery, ...]: ...

    async def notify_many(
        self, requests: Sequence[NotificationRequest]
    ) -> tuple[tuple[Delivery, ...], ...]: ...


class DeliveryQueue(Protocol):
    """Queues delivery jobs in the caller's transaction, at most once per delivery (the
    workflows system's job queue): one job for a queued email or SMS, or one job for a
    batch of queued emails."""

    async def enqueue(self, delivery: Delivery) -> None: ...

    async def enqueue_batch(self, deliveries: Sequence[Delivery]) -> None: ...


def reachable_channels(recipient: Recipient) -> frozenset[Channel]:
    reachable = set()
    if recipient.email:
        reachable.add(Channel.EMAIL)
    if recipient.phone:
        reachable.add(Channel.SMS)
    if recipient.user_id:
        reachable.add(Channel.IN_APP)
    return frozenset(reachable)


def _address(recipient: Recipient, channel: Channel) -> str:
    value = {
        Channel.EMAIL: recipient.email,
        Channel.SMS: recipient.phone,
        Channel.IN_APP: recipient.user_id,
    }[channel]
    assert value is not None  # reachable_channels picked only channels with one
    return normalize_address(value) if channel is Channel.EMAIL else value


class NotificationService:
    def __init__(
        self,
        *,
        catalog: NotificationCatalog,
        renderer: TemplateRenderer,
        preferences: PreferenceStore,
        deliveries: DeliveryStore,
        suppressions: SuppressionList,
        inbox: InboxStore,
        email: EmailSender,
        sms: SmsSender,
        queue: DeliveryQueue,
        unsubscribe: UnsubscribeTokens,
        clock: Clock,
        ids: IdGenerator,
        public_url: str,
        app_name: str,
    ) -> None:
        self._catalog = catalog
        self._renderer = renderer
        self._preferences = preferences
        self._deliveries = deliveries
        self._suppressions = suppressions
        self._inbox = inbox
        self._email = email
        self._sms = sms
        self._queue = queue
        self._unsubscribe = unsubscribe
        self._clock = clock
        self._ids = ids
        self._public_url = public_url.rstrip("/")
        self._app_name = app_name

    async def notify(self, request: NotificationRequest) -> tuple[Delivery, ...]:
        """Send ``request`` on every channel it goes out on; the deliveries, in channel
        order (an empty tuple when no channel applies)."""
        return await self._notify(request, batch=None)

    async def notify_many(
        self, requests: Sequence[NotificationRequest]
    ) -> tuple[tuple[Delivery, ...], ...]:
        """Notify many recipients at once (a broadcast, the admins of a workspace): as
        ``notify`` for each request, in order, except that their queued emails are
        handed to the provider in batches (one job per ``BATCH_SIZE`` emails, one batch
        call to providers that have one) instead of one job each."""
        batch: list[Delivery] = []
        answers = tuple([await self._notify(request, batch=batch) for request in requests])
        for start in range(0, len(batch), BATCH_SIZE):
            await self._queue.enqueue_batch(batch[start : start + BATCH_SIZE])
        return answers

    async def _notify(
        self, request: NotificationRequest, *, batch: list[Delivery] | None
    ) -> tuple[Delivery, ...]:
        if not request.idempotency_key or len(request.idempotency_key) > IDEMPOTENCY_KEY_MAX:
            raise ValueError(
                f"a notification's idempotency key has 1 to {IDEMPOTENCY_KEY_MAX} characters"
            )
        notification = self._catalog.get(request.type)
        recipient = request.recipient
        choices: Mapping[tuple[str, Channel], bool] = {}
        if notification.opt_out and recipient.user_id:
            choices = await self._preferences.choices(recipient.user_id)
        channels = channels_for(notification, choices, reachable_channels(recipient))
        return tuple(
            [await self._send(notification, channel, request, batch) for channel in channels]
        )

    def context(
        self, notification: NotificationType, channel: Channel, request: NotificationRequest
    ) -> dict[str, Any]:
        """The template variables: the request's data and the common keys."""
        recipient = request.recipient
        unsubscribe_url = None
        if notification.opt_out and recipient.user_id:
            token = self._unsubscribe.make(recipient.user_id, notification.category, channel)
            unsubscribe_url = f"{self._public_url}{UNSUBSCRIBE_PATH}?token={quote(token)}"
        return {
            "app_name": self._app_name,
            "public_url": self._public_url,
            "recipient_name": recipient.name,
            "preferences_url": f"{self._public_url}{PREFERENCES_PATH}",
            "unsubscribe_url": unsubscribe_url,
            **request.data,
        }

    async def _send(
        self,
        notification: NotificationType,
        channel: Channel,
        request: NotificationRequest,
        batch: list[Delivery] | None,
    ) -> Delivery:
        key = f"{request.idempotency_key}:{channel.value}"
        existing = await self._deliveries.by_key(key)
        if existing is not None:
            return existing
        now = self._clock.now()
        recipient = request.recipient
        address = _address(recipient, channel)
        delivery = Delivery(
            id=self._ids.new(DELIVERY_ID_PREFIX, now),
            idempotency_key=key,
            notification_type=notification.name,
            category=notification.category,
            channel=channel,
            user_id=recipient.user_id,
            workspace_id=recipient.workspace_id,
            address=address,
            status=DeliveryStatus.QUEUED,
            queued_at=now,
            updated_at=now,
        )
        if channel is Channel.EMAIL and await self._suppressions.get(address) is not None:
            return await self._record(delivery.move(DeliveryStatus.SUPPRESSED, now))
        context = self.context(notification, channel, request)
        rendered = self._renderer.render(notification, channel, context, locale=recipient.locale)
        if channel is Channel.IN_APP:
            return await self._to_inbox(delivery, notification, rendered)
        recorded = await self._record(delivery)
        if recorded is not delivery:
            return recorded  # a concurrent request with the same key got there first
        if channel is Channel.EMAIL:
            await self._email.send(self._email_message(delivery, rendered, context))
            if batch is not None:
                batch.append(delivery)
                return delivery
        else:
            await self._sms.send(
                SmsMessage(
                    to=address, body=rendered.text, category=notification.name, idempotency_key=key
                )
            )
        await self._queue.enqueue(delivery)
        return delivery

    async def _record(self, delivery: Delivery) -> Delivery:
        if await self._deliveries.add(delivery):
            return delivery
        existing = await self._deliveries.by_key(delivery.idempotency_key)
        assert existing is not None
        return existing

    async def _to_inbox(
        self, delivery: Delivery, notification: NotificationType, rendered: Rendered
    ) -> Delivery:
        now = delivery.queued_at
        item = InAppNotification(
            id=self._ids.new(INBOX_ID_PREFIX, now),
            user_id=delivery.address,
            workspace_id=delivery.workspace_id,
            notification_type=notification.name,
            category=notification.category,
            title=rendered.subject or notification.description,
            body=rendered.text,
            link=rendered.link or None,
            created_at=now,
        )
        delivered = delivery.move(
            DeliveryStatus.DELIVERED, now, provider="inbox", provider_message_id=item.id
        )
        recorded = await self._record(delivered)
        if recorded is delivered:
            await self._inbox.add(item)
        return recorded

    @staticmethod
    def _email_message(
        delivery: Delivery, rendered: Rendered, context: Mapping[str, Any]
    ) -> EmailMessage:
        headers = None
        unsubscribe_url = context.get("unsubscribe_url")
        if unsubscribe_url:
            # RFC 8058: a mail client may POST "List-Unsubscribe=One-Click" to the link.
            headers = {
                "List-Unsubscribe": f"<{unsubscribe_url}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            }
        return EmailMessage(
            to=delivery.address,
            subject=rendered.subject or "",
            text=rendered.text,
            html=rendered.html,
            category=delivery.notification_type,
            idempotency_key=delivery.idempotency_key,
            headers=headers,
        )
