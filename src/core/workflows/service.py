"""Delivering committed domain events: each subscriber gets each event as its own job.

The relay reads the outbox (so it only ever sees committed events) and, for every
message, enqueues one ``workflows.deliver_event`` job per subscriber of its name, with
the idempotency key ``<event id>:<subscriber>``; then it marks the message published.
A failing subscriber retries alone, on the jobs' retry policy, and ends up a dead
letter that staff can replay. With the SQL engine the fan-out and the "published"
mark are one transaction; with an engine outside the database, a relay that crashes in
between hands the message out again, and the idempotency keys keep one job each.

The relay also carries ``workflows.job_requested`` messages (jobs enqueued in a
transaction for an engine outside the database) to the engine.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import msgspec

from core.kernel import Clock, DomainEvent, IdGenerator, UnitOfWork, decode_event
from core.workflows.errors import PermanentJobError
from core.workflows.jobs import JobContext, JobRequested, JobType, make_request
from core.workflows.model import OutboxMessage, RetryPolicy
from core.workflows.ports import JobStore, OutboxStore
from core.workflows.waiting import first_of

logger = logging.getLogger(__name__)

Handler = Callable[[Any], Awaitable[None]]
MAX_RETRY_DELAY_SECONDS = 300
MAX_PASS_BACKOFF_SECONDS = 60.0
EVENTS_QUEUE = "events"


@dataclass(frozen=True, slots=True)
class EventEnvelope:
    """An event as stored: what subscribers that forward events verbatim (outbound
    webhooks) need, beyond the decoded event: its id, name and JSON."""

    id: str
    name: str
    workspace_id: str | None
    payload: bytes


EnvelopeHandler = Callable[[EventEnvelope], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Subscriber:
    name: str
    event: type[DomainEvent] | None  # None: an envelope subscriber
    handler: Handler


class EventBus:
    """Who subscribes to which event, by the event's stable name. Each subscriber has a
    stable name too (by default its module and qualified name): delivery jobs carry it,
    so renaming a subscriber orphans its pending deliveries."""

    def __init__(self) -> None:
        self._types: dict[str, type[DomainEvent]] = {}
        self._subscribers: dict[str, dict[str, Subscriber]] = {}

    def subscribe(
        self, event_cls: type[DomainEvent], handler: Handler, *, name: str | None = None
    ) -> None:
        if not event_cls.name:
            raise ValueError(f"{event_cls.__qualname__} has no name to subscribe to")
        known = self._types.setdefault(event_cls.name, event_cls)
        if known is not event_cls:
            raise ValueError(f"two event types share the name {event_cls.name!r}")
        name = name or f"{handler.__module__}.{handler.__qualname__}"
        self._add(event_cls.name, Subscriber(name, event_cls, handler))

    def subscribe_envelopes(
        self, event_names: Sequence[str], handler: EnvelopeHandler, *, name: str
    ) -> None:
        """Subscribe ``handler`` to the stored form of each named event (it is not
        decoded): for forwarding events as they are, e.g. to customers' webhooks."""
        for event_name in event_names:
            self._add(event_name, Subscriber(name, None, handler))

    def _add(self, event_name: str, subscriber: Subscriber) -> None:
        subscribers = self._subscribers.setdefault(event_name, {})
        if subscriber.name in subscribers:
            raise ValueError(f"{subscriber.name!r} already subscribes to {event_name!r}")
        subscribers[subscriber.name] = subscriber

    def subscribers_of(self, event_name: str) -> Sequence[Subscriber]:
        return tuple(self._subscribers.get(event_name, {}).values())

    def subscriber(self, event_name: str, name: str) -> Subscriber | None:
        return self._subscribers.get(event_name, {}).get(name)

    def handlers_for(self, event_name: str) -> Sequence[Handler]:
        return tuple(s.handler for s in self.subscribers_of(event_name))

    def decode(self, message: OutboxMessage) -> DomainEvent | None:
        event_cls = self._types.get(message.name)
        return None if event_cls is None else decode_event(event_cls, message.payload)


class DeliverEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One event for one subscriber."""

    event_id: str
    event_name: str
    subscriber: str
    event: msgspec.Raw


DELIVER_EVENT = JobType(
    name="workflows.deliver_event",
    payload=DeliverEvent,
    queue=EVENTS_QUEUE,
    timeout=120.0,
    retry=RetryPolicy(max_attempts=12, base_delay=2.0, max_delay=3600.0),
)


def event_delivery_handler(bus: EventBus) -> Callable[[DeliverEvent, JobContext], Awaitable[None]]:
    """The handler of ``workflows.deliver_event``: decode, call the one subscriber."""

    async def deliver(payload: DeliverEvent, context: JobContext) -> None:
        subscriber = bus.subscriber(payload.event_name, payload.subscriber)
        if subscriber is None:
            raise PermanentJobError(
                f"{payload.subscriber!r} no longer subscribes to {payload.event_name!r}"
            )
        if subscriber.event is None:
            envelope = EventEnvelope(
                id=payload.event_id,
                name=payload.event_name,
                workspace_id=context.workspace_id,
                payload=bytes(payload.event),
            )
            await subscriber.handler(envelope)
            return
        try:
            event = decode_event(subscriber.event, bytes(payload.event))
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise PermanentJobError(f"the event no longer decodes: {exc}") from exc
        await subscriber.handler(event)

    return deliver


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
    """Turns committed outbox messages into jobs: one per subscriber and event."""

    def __init__(
        self,
        *,
        bus: EventBus,
        open_session: Callable[[], OutboxSession],
        jobs_for: Callable[[OutboxSession], JobStore],
        clock: Clock,
        ids: IdGenerator,
        batch_size: int = 100,
        lease: timedelta = timedelta(seconds=60),
        wakeup: asyncio.Event | None = None,
        on_jobs_added: Callable[[], None] | None = None,
        queue_limits: Mapping[str, int] | None = None,
    ) -> None:
        self._queue_limits = dict(queue_limits or {})
        self._bus = bus
        self._open_session = open_session
        self._jobs_for = jobs_for
        self._clock = clock
        self._ids = ids
        self._batch_size = batch_size
        self._lease = lease
        self._wake = wakeup or asyncio.Event()
        self._on_jobs_added = on_jobs_added

    def wake(self) -> None:
        """Ask a running relay to look at the outbox now (called after a commit)."""
        self._wake.set()

    async def run_once(self) -> int:
        """Relay one batch; returns how many messages were published."""
        now = self._clock.now()
        session = self._open_session()
        added = 0
        async with session.uow:
            batch = await session.outbox.claim(self._batch_size, now, now + self._lease)
            store = self._jobs_for(session)
            for message in batch:
                try:
                    added += await self._relay(message, store)
                except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                    logger.error("outbox message %s cannot be relayed: %s", message.id, exc)
                    retry_at = now + retry_delay(message.attempts + 1)
                    await session.outbox.mark_failed(message.id, str(exc), retry_at)
                    continue
                await session.outbox.mark_published(message.id, self._clock.now())
            await session.uow.commit()
        if added and self._on_jobs_added is not None:
            self._on_jobs_added()
        return len(batch)

    async def _relay(self, message: OutboxMessage, store: JobStore) -> int:
        now = self._clock.now()
        if message.name == JobRequested.name:
            requested = msgspec.json.decode(message.payload, type=JobRequested)
            _, created = await store.add(requested.request, now)
            return int(created)
        added = 0
        for subscriber in self._bus.subscribers_of(message.name):
            request = make_request(
                DELIVER_EVENT,
                DeliverEvent(
                    event_id=message.id,
                    event_name=message.name,
                    subscriber=subscriber.name,
                    event=msgspec.Raw(message.payload),
                ),
                job_id=self._ids.new("job", now),
                run_at=now,
                idempotency_key=f"{message.id}:{subscriber.name}",
                workspace_id=message.workspace_id,
                queue_limits=self._queue_limits,
            )
            _, created = await store.add(request, now)
            added += int(created)
        return added

    async def drain(self) -> int:
        """Relay until a pass finds nothing more; returns the total published."""
        total = 0
        while (count := await self.run_once()) > 0:
            total += count
        return total

    async def run_forever(
        self, poll_interval: float = 1.0, stop: asyncio.Event | None = None
    ) -> None:
        """Relay at once when woken, else every ``poll_interval``, until ``stop`` is
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
            await first_of(self._wake, stop, at_most=wait)
