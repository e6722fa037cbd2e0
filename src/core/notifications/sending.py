"""Handing queued deliveries to providers, and applying the providers' reports.

``DeliveryWorker.deliver`` is the delivery job's use case. It reads the delivery and its
stored message in one transaction, calls the provider outside any transaction (a slow
provider holds no database connection), and records the outcome in a second one:

- no provider configured for the channel: the outbox is where the message stays, and
  the delivery is ``sent`` (staff read it there; development echoes it);
- the provider took it: ``sent``, with the provider's message id;
- the provider refused it (``EmailRejectedError``): ``failed``, never retried;
- the provider is unavailable: the error propagates, so the job retries with backoff;
  on the job's last attempt the delivery is marked ``failed`` first.

A crash between the provider call and the second transaction retries the job, which
calls the provider again with the same idempotency key: providers answer a repeated
key with the first answer, so nothing is sent twice.

``DeliveryWorker.apply`` applies a verified provider report: it moves the delivery
forward (never back), and puts the address on the suppression list for a hard bounce
or a complaint.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import NamedTuple, Protocol

from core.kernel import Clock, UnitOfWork
from core.notifications.catalog import Channel
from core.notifications.deliveries import (
    Delivery,
    DeliveryStatus,
    DeliveryStore,
    OutboxReader,
    ProviderEvent,
    Suppression,
    SuppressionList,
    SuppressionReason,
)
from core.notifications.errors import EmailProviderUnavailableError, EmailRejectedError
from core.notifications.model import EmailMessage
from core.notifications.sms import SmsMessage

logger = logging.getLogger("ninefold.notifications")

OUTBOX_PROVIDER = "outbox"


class EmailTransport(Protocol):
    """A provider that sends email now and answers its own id for the message;
    ``deliver_batch`` sends many in one call (or as few as the provider allows) and
    answers their ids in order."""

    @property
    def provider(self) -> str: ...

    async def deliver(self, message: EmailMessage) -> str: ...

    async def deliver_batch(self, messages: Sequence[EmailMessage]) -> list[str]: ...


class SmsTransport(Protocol):
    @property
    def provider(self) -> str: ...

    async def deliver(self, message: SmsMessage) -> str: ...


class DeliverySession(Protocol):
    """A unit of work and the stores the delivery jobs use inside it (valid inside
    ``async with session.uow``)."""

    @property
    def uow(self) -> UnitOfWork: ...

    @property
    def deliveries(self) -> DeliveryStore: ...

    @property
    def suppressions(self) -> SuppressionList: ...

    @property
    def outbox(self) -> OutboxReader: ...


class _Ready(NamedTuple):
    delivery: Delivery
    message: EmailMessage | SmsMessage
    transport: EmailTransport | SmsTransport


class Applied(enum.StrEnum):
    APPLIED = "applied"  # the delivery moved
    IGNORED = "ignored"  # a report that changes nothing (opened, late, repeated)
    UNMATCHED = "unmatched"  # no delivery has that provider message id (yet)


class DeliveryWorker:
    def __init__(
        self,
        *,
        open_session: Callable[[], DeliverySession],
        email: EmailTransport | None,
        sms: SmsTransport | None,
        clock: Clock,
    ) -> None:
        self._open = open_session
        self._email = email
        self._sms = sms
        self._clock = clock

    async def deliver(self, delivery_id: str, *, last_attempt: bool = False) -> Delivery | None:
        """Hand a queued delivery to its provider; the delivery as it ends up (``None``
        when there is no such delivery). A delivery that is not queued any more (sent by
        an earlier run, suppressed, failed) is left alone."""
        session = self._open()
        async with session.uow:
            prepared = await self._prepare(session, delivery_id)
            await session.uow.commit()
        if not isinstance(prepared, _Ready):
            return prepared
        transport = prepared.transport
        try:
            provider_id = await transport.deliver(prepared.message)  # type: ignore[arg-type]
        except EmailRejectedError as error:
            return await self._record(
                delivery_id, DeliveryStatus.FAILED, provider=transport.provider, error=error.detail
            )
        except EmailProviderUnavailableError as error:
            if last_attempt:
                await self._give_up([delivery_id], transport.provider, error)
            raise
        return await self._record(
            delivery_id,
            DeliveryStatus.SENT,
            provider=transport.provider,
            provider_message_id=provider_id,
        )

    async def deliver_batch(
        self, delivery_ids: Sequence[str], *, last_attempt: bool = False
    ) -> list[str]:
        """Hand queued email deliveries to the provider in one batch call; the ids of
        the deliveries to send one by one instead (when the provider refused the batch,
        so that the message it objects to fails alone). Deliveries that are not queued
        any more are left alone, as in ``deliver``."""
        session = self._open()
        async with session.uow:
            prepared = [await self._prepare(session, one) for one in delivery_ids]
            await session.uow.commit()
        ready = [p for p in prepared if isinstance(p, _Ready)]
        if not ready:
            return []
        if self._email is None or any(r.delivery.channel is not Channel.EMAIL for r in ready):
            return [r.delivery.id for r in ready]
        ids = [r.delivery.id for r in ready]
        try:
            provider_ids = await self._email.deliver_batch(
                [r.message for r in ready]  # type: ignore[misc]
            )
        except EmailRejectedError as error:
            logger.warning("a batch of %d emails was refused (%s): sending each", len(ids), error)
            return ids
        except EmailProviderUnavailableError as error:
            if last_attempt:
                await self._give_up(ids, self._email.provider, error)
            raise
        for delivery_id, provider_id in zip(ids, provider_ids, strict=True):
            await self._record(
                delivery_id,
                DeliveryStatus.SENT,
                provider=self._email.provider,
                provider_message_id=provider_id,
            )
        return []

    async def _prepare(
        self, session: DeliverySession, delivery_id: str
    ) -> Delivery | _Ready | None:
        """Inside ``session.uow``: what a queued delivery needs from a provider
        (``_Ready``), or the delivery as it ends without one (suppressed, its message
        gone, or kept in the outbox when no provider is configured; saved, not
        committed)."""
        delivery = await session.deliveries.get(delivery_id)
        if delivery is None or delivery.status is not DeliveryStatus.QUEUED:
            return delivery
        now = self._clock.now()
        if delivery.channel is Channel.EMAIL and await session.suppressions.get(delivery.address):
            return await self._save(session, delivery.move(DeliveryStatus.SUPPRESSED, now))
        message: EmailMessage | SmsMessage | None
        transport: EmailTransport | SmsTransport | None
        if delivery.channel is Channel.EMAIL:
            message, transport = await session.outbox.email(delivery.idempotency_key), self._email
        else:
            message, transport = await session.outbox.sms(delivery.idempotency_key), self._sms
        if message is None:
            failed = delivery.move(DeliveryStatus.FAILED, now, error="the message is gone")
            return await self._save(session, failed)
        if transport is None:
            sent = delivery.move(DeliveryStatus.SENT, now, provider=OUTBOX_PROVIDER)
            return await self._save(session, sent)
        return _Ready(delivery, message, transport)

    async def _give_up(
        self, delivery_ids: Sequence[str], provider: str, error: EmailProviderUnavailableError
    ) -> None:
        for delivery_id in delivery_ids:
            await self._record(
                delivery_id,
                DeliveryStatus.FAILED,
                provider=provider,
                error=f"gave up after the last attempt: {error.detail}",
            )

    async def _record(
        self,
        delivery_id: str,
        status: DeliveryStatus,
        *,
        provider: str,
        provider_message_id: str | None = None,
        error: str | None = None,
    ) -> Delivery | None:
        session = self._open()
        async with session.uow:
            delivery = await session.deliveries.get(delivery_id)
            if delivery is None:
                return None
            moved = delivery.advance(
                status,
                self._clock.now(),
                provider=provider,
                provider_message_id=provider_message_id,
                error=error,
            )
            if moved is None:  # an earlier run of the job recorded it already
                return delivery
            return await self._finish(session, moved)

    @staticmethod
    async def _save(session: DeliverySession, delivery: Delivery) -> Delivery:
        await session.deliveries.save(delivery)
        if delivery.channel is not Channel.IN_APP:
            await session.outbox.mark(delivery.channel, delivery.idempotency_key, delivery.status)
        logger.info(
            "delivery %s of %s: %s", delivery.id, delivery.notification_type, delivery.status
        )
        return delivery

    async def _finish(self, session: DeliverySession, delivery: Delivery) -> Delivery:
        await self._save(session, delivery)
        await session.uow.commit()
        return delivery

    async def apply(self, event: ProviderEvent) -> Applied:
        """Apply a provider's report about one of its messages."""
        if event.status is None or not event.message_id:
            return Applied.IGNORED
        session = self._open()
        async with session.uow:
            delivery = await session.deliveries.by_provider_message(
                event.provider, event.message_id
            )
            if delivery is None:
                return Applied.UNMATCHED
            moved = delivery.advance(event.status, event.occurred_at, error=event.detail)
            suppress = self._suppression(event, delivery, event.occurred_at)
            if suppress is not None:
                await session.suppressions.add(suppress)
            if moved is None:
                if suppress is not None:
                    await session.uow.commit()
                return Applied.IGNORED
            await self._finish(session, moved)
            return Applied.APPLIED

    @staticmethod
    def _suppression(event: ProviderEvent, delivery: Delivery, at: datetime) -> Suppression | None:
        if delivery.channel is not Channel.EMAIL:
            return None
        if event.status is DeliveryStatus.COMPLAINED:
            reason = SuppressionReason.COMPLAINT
        elif event.status is DeliveryStatus.BOUNCED and event.permanent:
            reason = SuppressionReason.BOUNCE
        else:
            return None
        return Suppression(
            address=delivery.address,
            reason=reason,
            detail=event.detail,
            delivery_id=delivery.id,
            created_at=at,
        )
