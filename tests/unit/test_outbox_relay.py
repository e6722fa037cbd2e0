"""The outbox relay hands committed events to subscribers, at least once."""

from datetime import timedelta

import pytest

from adapters.memory.uow import InMemoryOutbox, InMemoryUnitOfWork
from core.kernel import DomainEvent, FixedClock, IdGenerator
from core.workflows import EventBus, OutboxRelay
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
        self.bus = EventBus()
        self.relay = OutboxRelay(bus=self.bus, open_session=self.session, clock=self.clock)

    def session(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.outbox, self.clock, self.ids)

    async def commit(self, *events: DomainEvent) -> None:
        async with self.session() as uow:
            for event in events:
                uow.raise_event(event)
            await uow.commit()

    def shipped(self, order: str) -> Shipped:
        return Shipped(occurred_at=self.clock.now(), order=order)


@pytest.fixture
def setup() -> Setup:
    return Setup()


async def test_every_subscriber_receives_each_committed_event(setup: Setup) -> None:
    first: list[str] = []
    second: list[str] = []

    async def to_first(event: Shipped) -> None:
        first.append(event.order)

    async def to_second(event: Shipped) -> None:
        second.append(event.order)

    setup.bus.subscribe(Shipped, to_first)
    setup.bus.subscribe(Shipped, to_second)
    await setup.commit(setup.shipped("o-1"), setup.shipped("o-2"))

    assert await setup.relay.drain() == 2
    assert first == second == ["o-1", "o-2"]
    assert await setup.outbox.pending_count() == 0


async def test_an_event_nobody_subscribes_to_is_settled(setup: Setup) -> None:
    await setup.commit(Unheard(occurred_at=setup.clock.now()))

    assert await setup.relay.drain() == 1
    assert await setup.outbox.pending_count() == 0


async def test_a_failing_subscriber_leaves_the_event_pending_and_retries_with_backoff(
    setup: Setup,
) -> None:
    calls: list[int] = []

    async def flaky(event: Shipped) -> None:
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("downstream is down")

    setup.bus.subscribe(Shipped, flaky)
    await setup.commit(setup.shipped("o-1"))

    assert await setup.relay.run_once() == 0
    (message,) = setup.outbox.messages.values()
    assert message.attempts == 1
    assert "downstream is down" in (message.last_error or "")

    assert await setup.relay.run_once() == 0, "not retried before its backoff has passed"
    setup.clock.advance(retry_delay(1))
    assert await setup.relay.run_once() == 0
    setup.clock.advance(retry_delay(2))
    assert await setup.relay.run_once() == 1
    assert len(calls) == 3
    assert await setup.outbox.pending_count() == 0


async def test_a_payload_that_no_longer_decodes_stays_pending_with_the_reason(
    setup: Setup,
) -> None:
    async def handler(event: Shipped) -> None:
        raise AssertionError("must not be called")

    setup.bus.subscribe(Shipped, handler)
    await setup.commit(Unheard(occurred_at=setup.clock.now()))
    (message,) = setup.outbox.messages.values()
    setup.outbox.messages[message.id] = type(message)(
        id=message.id,
        name=Shipped.name,
        payload=b'{"not": "a shipped event"}',
        occurred_at=message.occurred_at,
    )

    assert await setup.relay.run_once() == 0
    (failed,) = setup.outbox.messages.values()
    assert failed.last_error is not None
    assert failed.last_error.startswith("undecodable payload")


def test_backoff_doubles_up_to_five_minutes() -> None:
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [2, 4, 8, 16]
    assert retry_delay(30) == timedelta(minutes=5)


def test_two_event_types_cannot_share_a_name() -> None:
    class Impostor(DomainEvent, frozen=True, kw_only=True):
        name = "test.shipped"

    async def noop(event: DomainEvent) -> None:
        return None

    bus = EventBus()
    bus.subscribe(Shipped, noop)
    with pytest.raises(ValueError, match="share the name"):
        bus.subscribe(Impostor, noop)
