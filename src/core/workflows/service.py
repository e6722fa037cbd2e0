"""Handing committed domain events to the subscribers that other systems register.

This is the foundation's in-process dispatcher: it reads the outbox (so it only ever
sees committed events), calls every subscriber of each event and marks it published.
A failure leaves the message pending, so it is retried on the next pass: delivery is
at least once, and subscribers must be idempotent.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any, Protocol

from core.kernel import Clock, DomainEvent, UnitOfWork, decode_event
from core.workflows.model import OutboxMessage
from core.workflows.ports import OutboxStore

logger = logging.getLogger(__name__)

Handler = Callable[[Any], Awaitable[None]]
MAX_RETRY_DELAY_SECONDS = 300
MAX_PASS_BACKOFF_SECONDS = 60.0


class EventBus:
    """Who subscribes to which event, by the event's stable name."""

    def __init__(self) -> None:
        self._types: dict[str, type[DomainEvent]] = {}
        self._handlers: dict[str, list[Handler]] = defaultdict(list)

    def subscribe(self, event_cls: type[DomainEvent], handler: Handler) -> None:
        if not event_cls.name:
            raise ValueError(f"{event_cls.__qualname__} has no name to subscribe to")
        known = self._types.setdefault(event_cls.name, event_cls)
        if known is not event_cls:
            raise ValueError(f"two event types share the name {event_cls.name!r}")
        self._handlers[event_cls.name].append(handler)

    def handlers_for(self, name: str) -> Sequence[Handler]:
        return tuple(self._handlers.get(name, ()))

    def decode(self, message: OutboxMessage) -> DomainEvent | None:
        event_cls = self._types.get(message.name)
        return None if event_cls is None else decode_event(event_cls, message.payload)


class OutboxSession(Protocol):
    """A unit of work together with the outbox store bound to its transaction."""

    @property
    def uow(self) -> UnitOfWork: ...

    @property
    def outbox(self) -> OutboxStore: ...


def retry_delay(attempts: int) -> timedelta:
    """Back off 2, 4, 8 … seconds after each failed attempt, at most five minutes."""
    return timedelta(seconds=min(2 ** max(attempts, 1), MAX_RETRY_DELAY_SECONDS))


class OutboxRelay:
    """Delivers committed outbox messages to the event bus's subscribers."""

    def __init__(
        self,
        *,
        bus: EventBus,
        open_session: Callable[[], OutboxSession],
        clock: Clock,
        batch_size: int = 100,
        lease: timedelta = timedelta(seconds=60),
        wakeup: asyncio.Event | None = None,
    ) -> None:
        self._bus = bus
        self._open_session = open_session
        self._clock = clock
        self._batch_size = batch_size
        self._lease = lease
        self._wake = wakeup or asyncio.Event()

    def wake(self) -> None:
        """Ask a running relay to look at the outbox now (called after a commit)."""
        self._wake.set()

    async def run_once(self) -> int:
        """Deliver one batch; returns how many messages were published."""
        now = self._clock.now()
        claimer = self._open_session()
        async with claimer.uow:
            batch = await claimer.outbox.claim(self._batch_size, now, now + self._lease)
            await claimer.uow.commit()
        published = 0
        for message in batch:
            error = await self._deliver(message)
            settler = self._open_session()
            async with settler.uow:
                if error is None:
                    await settler.outbox.mark_published(message.id, self._clock.now())
                    published += 1
                else:
                    retry_at = self._clock.now() + retry_delay(message.attempts + 1)
                    await settler.outbox.mark_failed(message.id, error, retry_at)
                await settler.uow.commit()
        return published

    async def drain(self) -> int:
        """Deliver until a pass publishes nothing more; returns the total published."""
        total = 0
        while (count := await self.run_once()) > 0:
            total += count
        return total

    async def run_forever(
        self, poll_interval: float = 1.0, stop: asyncio.Event | None = None
    ) -> None:
        """Deliver at once when woken, else every ``poll_interval``, until ``stop`` is
        set (the pass under way finishes first) or the task is cancelled.

        A pass that fails as a whole (database down, tables missing) is logged and
        retried after a growing pause, up to a minute, so an outage does not flood logs.
        """
        stop = stop or asyncio.Event()
        failures = 0
        while not stop.is_set():
            wait = poll_interval
            try:
                await self.drain()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                wait = min(poll_interval * 2**failures, MAX_PASS_BACKOFF_SECONDS)
                logger.warning("outbox relay pass failed (%r); next try in %.0fs", exc, wait)
            self._wake.clear()
            await _first_of(self._wake, stop, at_most=wait)

    async def _deliver(self, message: OutboxMessage) -> str | None:
        try:
            event = self._bus.decode(message)
        except Exception as exc:
            return f"undecodable payload: {exc}"
        if event is None:
            return None  # nobody subscribes to this event: nothing to deliver
        failures = []
        for handler in self._bus.handlers_for(message.name):
            try:
                await handler(event)
            except Exception as exc:
                logger.exception("subscriber %r failed on %s", handler, message.id)
                failures.append(f"{getattr(handler, '__qualname__', handler)}: {exc!r}")
        return "; ".join(failures) or None


async def _first_of(*events: asyncio.Event, at_most: float) -> None:
    """Wait until any of ``events`` is set, or ``at_most`` seconds."""
    waiters = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=at_most, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
