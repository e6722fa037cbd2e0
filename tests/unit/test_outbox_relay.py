"""The outbox relay turns each committed event into one delivery job per subscriber,
so a failing subscriber retries alone, and relaying twice creates nothing twice."""

from __future__ import annotations

from datetime import timedelta

import msgspec
import pytest

from adapters.memory.jobs import InMemoryJobStore
from adapters.memory.uow import InMemoryOutbox, InMemoryUnitOfWork
from contracts.ports.jobs import Note
from core.kernel import DomainEvent, FixedClock, IdGenerator
from core.workflows import (
    DELIVER_EVENT,
    EventBus,
    EventEnvelope,
    JobFilter,
    JobQueue,
    JobRegistry,
    JobRunner,
    JobState,
    JobType,
    OutboxRelay,
    event_delivery_handler,
)
from core.workflows.service import retry_delay


class Shipped(DomainEvent, frozen=True, kw_only=True):
    name = "test.shipped"

    order: str


class Unheard(DomainEvent, frozen=True, kw_only=True):
    name = "test.unheard"


class Setup:
    def __init__(self) -> None:
        self.clock = FixedClock()
        self.ids = IdGenerator()
        self.outbox = InMemoryOutbox()
        self.jobs = InMemoryJobStore()
        self.bus = EventBus()
        self.relay = OutboxRelay(
            bus=self.bus,
            open_session=self.session,
            jobs_for=lambda _session: self.jobs,
            clock=self.clock,
            ids=self.ids,
        )
        registry = JobRegistry()
        registry.register(DELIVER_EVENT, event_delivery_handler(self.bus))
        self.registry = registry
        self.runner = JobRunner(registry=registry, open_store=self._store, clock=self.clock)

    def _store(self) -> _Opened:
        return _Opened(self.jobs)

    def session(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.outbox, self.clock, self.ids)

    async def commit(self, *events: DomainEvent) -> None:
        async with self.session() as uow:
            for event in events:
                uow.raise_event(event)
            await uow.commit()

    def shipped(self, order: str) -> Shipped:
        return Shipped(occurred_at=self.clock.now(), order=order)

    async def deliver(self) -> int:
        await self.relay.drain()
        return await self.runner.drain()

    async def delivery_jobs(self) -> list[tuple[str, JobState]]:
        jobs = await self.jobs.list(JobFilter(name=DELIVER_EVENT.name))
        return sorted((job.idempotency_key or "", job.state) for job in jobs)


class _Opened:
    def __init__(self, store: InMemoryJobStore) -> None:
        self._store = store

    async def __aenter__(self) -> InMemoryJobStore:
        return self._store

    async def __aexit__(self, *_: object) -> None:
        return None


@pytest.fixture
def setup() -> Setup:
    return Setup()


def recorder(into: list[str]):  # type: ignore[no-untyped-def]
    async def record(event: Shipped) -> None:
        into.append(event.order)

    return record


async def test_each_subscriber_gets_each_committed_event_as_its_own_job(setup: Setup) -> None:
    first: list[str] = []
    second: list[str] = []
    setup.bus.subscribe(Shipped, recorder(first), name="first")
    setup.bus.subscribe(Shipped, recorder(second), name="second")
    await setup.commit(setup.shipped("o-1"), setup.shipped("o-2"))

    assert await setup.deliver() == 4

    assert first == ["o-1", "o-2"]
    assert second == ["o-1", "o-2"]
    message_ids = sorted(setup.outbox.messages)
    assert await setup.delivery_jobs() == sorted(
        (f"{message_id}:{name}", JobState.SUCCEEDED)
        for message_id in message_ids
        for name in ("first", "second")
    )
    assert await setup.outbox.pending_count() == 0


async def test_an_event_nobody_subscribes_to_is_published_without_a_job(setup: Setup) -> None:
    await setup.commit(Unheard(occurred_at=setup.clock.now()))

    assert await setup.relay.drain() == 1
    assert await setup.outbox.pending_count() == 0
    assert await setup.delivery_jobs() == []


async def test_a_failing_subscriber_retries_alone(setup: Setup) -> None:
    steady: list[str] = []
    calls: list[str] = []

    async def flaky(event: Shipped) -> None:
        calls.append(event.order)
        if len(calls) == 1:
            raise RuntimeError("the warehouse is down")

    setup.bus.subscribe(Shipped, recorder(steady), name="steady")
    setup.bus.subscribe(Shipped, flaky, name="flaky")
    await setup.commit(setup.shipped("o-1"))

    await setup.deliver()
    states = dict(await setup.delivery_jobs())
    assert [state for key, state in sorted(states.items())] == [JobState.QUEUED, JobState.SUCCEEDED]

    setup.clock.advance(timedelta(hours=1))
    await setup.deliver()

    assert steady == ["o-1"]  # not delivered again
    assert calls == ["o-1", "o-1"]
    assert {state for _, state in await setup.delivery_jobs()} == {JobState.SUCCEEDED}


async def test_relaying_a_message_again_creates_no_second_job(setup: Setup) -> None:
    heard: list[str] = []
    setup.bus.subscribe(Shipped, recorder(heard), name="only")
    await setup.commit(setup.shipped("o-1"))
    await setup.relay.drain()
    # A relay that died after enqueueing but before its "published" mark was stored:
    (message_id,) = setup.outbox.messages
    setup.outbox.messages[message_id] = msgspec.structs.replace(
        setup.outbox.messages[message_id], published_at=None
    )

    assert await setup.relay.drain() == 1
    assert await setup.runner.drain() == 1
    assert heard == ["o-1"]
    assert len(await setup.delivery_jobs()) == 1


async def test_an_event_that_no_longer_decodes_is_dead_lettered_with_the_reason(
    setup: Setup,
) -> None:
    class ShippedV2(DomainEvent, frozen=True, kw_only=True):
        name = "test.shipped"

        order: int  # the stored events carry strings

    heard: list[str] = []
    setup.bus.subscribe(ShippedV2, recorder(heard), name="v2")
    await setup.commit(setup.shipped("o-1"))

    await setup.deliver()

    (job,) = await setup.jobs.list(JobFilter(name=DELIVER_EVENT.name))
    assert job.state is JobState.DEAD
    assert job.attempts == 1
    assert "no longer decodes" in (job.last_error or "")
    assert heard == []


async def test_a_delivery_for_a_removed_subscriber_is_dead_lettered(setup: Setup) -> None:
    setup.bus.subscribe(Shipped, recorder([]), name="gone")
    await setup.commit(setup.shipped("o-1"))
    await setup.relay.drain()
    setup.bus = EventBus()  # the next deploy no longer subscribes it
    registry = JobRegistry()
    registry.register(DELIVER_EVENT, event_delivery_handler(setup.bus))
    runner = JobRunner(registry=registry, open_store=setup._store, clock=setup.clock)

    await runner.drain()

    (job,) = await setup.jobs.list(JobFilter(name=DELIVER_EVENT.name))
    assert job.state is JobState.DEAD
    assert "no longer subscribes" in (job.last_error or "")


async def test_an_envelope_subscriber_gets_the_stored_event(setup: Setup) -> None:
    envelopes: list[EventEnvelope] = []

    async def forward(envelope: EventEnvelope) -> None:
        envelopes.append(envelope)

    setup.bus.subscribe_envelopes(["test.shipped"], forward, name="forwarder")
    event = Shipped(occurred_at=setup.clock.now(), order="o-9", workspace_id="ws_1")
    await setup.commit(event)

    assert await setup.deliver() == 1

    (message_id,) = setup.outbox.messages
    (envelope,) = envelopes
    assert (envelope.id, envelope.name, envelope.workspace_id) == (
        message_id,
        "test.shipped",
        "ws_1",
    )
    assert msgspec.json.decode(envelope.payload, type=Shipped) == event


async def test_jobs_enqueued_in_a_transaction_reach_the_engine_through_the_outbox(
    setup: Setup,
) -> None:
    note = JobType("test.note", Note)
    async with setup.session() as uow:
        queue = JobQueue(
            uow=uow, store=setup.jobs, store_in_transaction=False, clock=setup.clock, ids=setup.ids
        )
        job = await queue.enqueue(note, Note("hi"))
        assert await setup.jobs.get(job.id) is None  # not before the commit
        await uow.commit()

    await setup.relay.drain()

    stored = await setup.jobs.get(job.id)
    assert stored is not None
    assert stored.state is JobState.QUEUED


def test_backoff_doubles_up_to_five_minutes() -> None:
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 8, 9, 20)] == [2, 4, 8, 256, 300, 300]


def test_two_event_types_cannot_share_a_name() -> None:
    class Impostor(DomainEvent, frozen=True, kw_only=True):
        name = "test.shipped"

    bus = EventBus()
    bus.subscribe(Shipped, recorder([]), name="one")
    with pytest.raises(ValueError, match="share the name"):
        bus.subscribe(Impostor, recorder([]), name="two")


def test_a_subscriber_name_is_used_once_per_event() -> None:
    bus = EventBus()
    bus.subscribe(Shipped, recorder([]), name="same")
    with pytest.raises(ValueError, match="already subscribes"):
        bus.subscribe(Shipped, recorder([]), name="same")
