"""The delivery job's use case and provider reports: handing queued deliveries to a
provider (or leaving them in the outbox), retries and failures, and applying delivery
webhooks forward only, with the suppression list."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from itertools import product

import msgspec
import pytest

from adapters.memory.deliveries import (
    InMemoryDeliveryStore,
    InMemoryOutboxReader,
    InMemorySuppressionList,
)
from adapters.memory.uow import InMemoryOutbox, InMemoryUnitOfWork
from core.kernel import FixedClock, IdGenerator
from core.notifications import (
    Applied,
    Channel,
    Delivery,
    DeliveryStatus,
    DeliveryWorker,
    EmailMessage,
    EmailProviderUnavailableError,
    EmailRejectedError,
    InvalidDeliveryTransitionError,
    ProviderEvent,
    SuppressionReason,
    may_move,
)
from core.notifications.deliveries import ALLOWED_MOVES

S = DeliveryStatus


class FakeTransport:
    provider = "fakemail"

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []
        self.batches: list[list[EmailMessage]] = []
        self.fail_with: Exception | None = None

    async def deliver(self, message: EmailMessage) -> str:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append(message)
        return f"msg_{len(self.sent)}"

    async def deliver_batch(self, messages: Sequence[EmailMessage]) -> list[str]:
        if self.fail_with is not None:
            raise self.fail_with
        self.batches.append(list(messages))
        return [await self.deliver(message) for message in messages]


class Session:
    def __init__(self, world: World) -> None:
        self.uow = InMemoryUnitOfWork(world.outbox_events, world.clock, IdGenerator())
        self.deliveries = world.deliveries
        self.suppressions = world.suppressions
        self.outbox = world.outbox


class World:
    def __init__(self, transport: FakeTransport | None) -> None:
        self.clock = FixedClock()
        self.outbox_events = InMemoryOutbox()
        self.deliveries = InMemoryDeliveryStore()
        self.suppressions = InMemorySuppressionList()
        self.outbox = InMemoryOutboxReader()
        self.transport = transport
        self.worker = DeliveryWorker(
            open_session=lambda: Session(self), email=transport, sms=None, clock=self.clock
        )

    async def queued(self, key: str = "k1", channel: Channel = Channel.EMAIL) -> Delivery:
        now = self.clock.now()
        delivery = Delivery(
            id=f"dlv_{key}",
            idempotency_key=f"{key}:{channel.value}",
            notification_type="tests.digest",
            category="digest",
            channel=channel,
            user_id="usr_ada",
            workspace_id=None,
            address="ada@example.com",
            status=S.QUEUED,
            queued_at=now,
            updated_at=now,
        )
        await self.deliveries.add(delivery)
        await self.outbox.emails.send(
            EmailMessage(
                to="ada@example.com",
                subject="Hi",
                text="Hello",
                category="tests.digest",
                idempotency_key=delivery.idempotency_key,
            )
        )
        return delivery

    def event(
        self, status: DeliveryStatus | None, message_id: str = "msg_1", **fields: object
    ) -> ProviderEvent:
        return ProviderEvent(
            provider="fakemail",
            event_id=f"evt_{status}",
            event_type=f"email.{status}",
            message_id=message_id,
            status=status,
            occurred_at=self.clock.now(),
            **fields,  # type: ignore[arg-type]
        )


@pytest.fixture
def world() -> World:
    return World(FakeTransport())


async def test_a_provider_takes_a_queued_email_and_the_delivery_is_sent(world: World) -> None:
    delivery = await world.queued()
    world.clock.advance(timedelta(seconds=3))

    sent = await world.worker.deliver(delivery.id)

    assert sent is not None
    assert (sent.status, sent.provider, sent.provider_message_id) == (S.SENT, "fakemail", "msg_1")
    assert sent.sent_at == world.clock.now()
    assert await world.deliveries.get(delivery.id) == sent
    assert world.outbox.status(Channel.EMAIL, delivery.idempotency_key) is S.SENT
    assert world.transport is not None
    assert world.transport.sent[0].subject == "Hi"


async def test_without_a_provider_the_outbox_is_the_delivery() -> None:
    world = World(None)
    delivery = await world.queued()

    sent = await world.worker.deliver(delivery.id)

    assert sent is not None
    assert (sent.status, sent.provider) == (S.SENT, "outbox")


async def test_a_delivery_already_sent_is_not_sent_again(world: World) -> None:
    delivery = await world.queued()
    await world.worker.deliver(delivery.id)

    again = await world.worker.deliver(delivery.id)  # the job ran twice

    assert again is not None
    assert again.status is S.SENT
    assert world.transport is not None
    assert len(world.transport.sent) == 1


async def test_a_refused_message_fails_for_good_without_raising(world: World) -> None:
    delivery = await world.queued()
    assert world.transport is not None
    world.transport.fail_with = EmailRejectedError("Resend answered 422: invalid `to`")

    failed = await world.worker.deliver(delivery.id)

    assert failed is not None
    assert failed.status is S.FAILED
    assert failed.error == "Resend answered 422: invalid `to`"
    assert failed.failed_at == world.clock.now()


async def test_an_unavailable_provider_raises_for_a_retry_and_fails_the_last_attempt(
    world: World,
) -> None:
    delivery = await world.queued()
    assert world.transport is not None
    world.transport.fail_with = EmailProviderUnavailableError("Resend answered 503")

    with pytest.raises(EmailProviderUnavailableError):
        await world.worker.deliver(delivery.id)
    assert (await world.deliveries.get(delivery.id)) == delivery  # still queued

    with pytest.raises(EmailProviderUnavailableError):
        await world.worker.deliver(delivery.id, last_attempt=True)
    failed = await world.deliveries.get(delivery.id)
    assert failed is not None
    assert failed.status is S.FAILED
    assert failed.error is not None
    assert "last attempt" in failed.error


async def test_an_address_suppressed_after_queueing_is_not_sent(world: World) -> None:
    delivery = await world.queued()
    other = await world.queued("k2")
    await world.worker.deliver(other.id)
    await world.worker.apply(world.event(S.BOUNCED, permanent=True))

    suppressed = await world.worker.deliver(delivery.id)

    assert suppressed is not None
    assert suppressed.status is S.SUPPRESSED
    assert world.transport is not None
    assert len(world.transport.sent) == 1


async def test_reports_move_a_delivery_forward_and_never_back(world: World) -> None:
    delivery = await world.queued()
    await world.worker.deliver(delivery.id)

    assert await world.worker.apply(world.event(S.DELIVERED)) is Applied.APPLIED
    assert await world.worker.apply(world.event(S.SENT)) is Applied.IGNORED  # late
    assert await world.worker.apply(world.event(S.DELIVERED)) is Applied.IGNORED  # twice
    assert await world.worker.apply(world.event(S.COMPLAINED)) is Applied.APPLIED

    stored = await world.deliveries.get(delivery.id)
    assert stored is not None
    assert stored.status is S.COMPLAINED
    assert stored.delivered_at is not None
    assert stored.complained_at is not None
    suppression = await world.suppressions.get("ADA@example.com")
    assert suppression is not None
    assert suppression.reason is SuppressionReason.COMPLAINT
    assert suppression.delivery_id == delivery.id


async def test_a_hard_bounce_suppresses_the_address_and_a_soft_one_does_not(
    world: World,
) -> None:
    soft = await world.queued("soft")
    await world.worker.deliver(soft.id)
    await world.worker.apply(
        world.event(S.BOUNCED, "msg_1", permanent=False, detail="mailbox full")
    )
    assert await world.suppressions.get("ada@example.com") is None

    hard = await world.queued("hard")
    await world.worker.deliver(hard.id)
    await world.worker.apply(world.event(S.BOUNCED, "msg_2", permanent=True, detail="no such user"))

    suppression = await world.suppressions.get("ada@example.com")
    assert suppression is not None
    assert (suppression.reason, suppression.detail) == (SuppressionReason.BOUNCE, "no such user")
    bounced = await world.deliveries.get(hard.id)
    assert bounced is not None
    assert bounced.error == "no such user"


async def test_a_report_before_the_provider_id_is_known_is_unmatched(world: World) -> None:
    await world.queued()

    assert await world.worker.apply(world.event(S.DELIVERED)) is Applied.UNMATCHED


async def test_reports_that_change_no_state_are_ignored(world: World) -> None:
    delivery = await world.queued()
    await world.worker.deliver(delivery.id)

    assert await world.worker.apply(world.event(None)) is Applied.IGNORED
    stored = await world.deliveries.get(delivery.id)
    assert stored is not None
    assert stored.status is S.SENT


@pytest.mark.parametrize(("current", "to"), list(product(S, S)))
async def test_every_move_follows_the_state_machine(
    world: World, current: DeliveryStatus, to: DeliveryStatus
) -> None:
    delivery = msgspec.structs.replace(await world.queued(), status=current)
    at = world.clock.advance(timedelta(minutes=1))

    if to in ALLOWED_MOVES[current]:
        moved = delivery.move(to, at)
        assert moved.status is to
        assert getattr(moved, f"{to.value}_at") == at
        assert moved.updated_at == at
        assert delivery.advance(to, at) == moved
    else:
        with pytest.raises(InvalidDeliveryTransitionError):
            delivery.move(to, at)
        assert delivery.advance(to, at) is None


def test_finished_states_are_final_and_nothing_goes_back_to_queued() -> None:
    for final in (S.BOUNCED, S.COMPLAINED, S.FAILED, S.SUPPRESSED):
        assert ALLOWED_MOVES[final] == frozenset()
    assert all(not may_move(status, S.QUEUED) for status in S)


async def test_a_batch_goes_out_in_one_call_and_each_delivery_gets_its_id(world: World) -> None:
    first, second = await world.queued("a"), await world.queued("b")
    done = await world.queued("c")
    await world.worker.deliver(done.id)  # already sent: left out of the batch

    alone = await world.worker.deliver_batch([first.id, second.id, done.id])

    assert alone == []
    assert world.transport is not None
    assert [[m.idempotency_key for m in b] for b in world.transport.batches] == [
        ["a:email", "b:email"]
    ]
    stored = [await world.deliveries.get(d.id) for d in (first, second)]
    assert [(d.status, d.provider_message_id) for d in stored if d] == [
        (S.SENT, "msg_2"),
        (S.SENT, "msg_3"),
    ]


async def test_a_refused_batch_is_split_so_the_bad_message_fails_alone(world: World) -> None:
    first, second = await world.queued("a"), await world.queued("b")
    assert world.transport is not None
    world.transport.fail_with = EmailRejectedError("Resend answered 422")

    alone = await world.worker.deliver_batch([first.id, second.id])

    assert alone == [first.id, second.id]
    for delivery_id in alone:
        stored = await world.deliveries.get(delivery_id)
        assert stored is not None
        assert stored.status is S.QUEUED  # each goes out in a job of its own


async def test_an_unavailable_provider_fails_the_batch_for_a_retry_then_gives_up(
    world: World,
) -> None:
    first, second = await world.queued("a"), await world.queued("b")
    assert world.transport is not None
    world.transport.fail_with = EmailProviderUnavailableError("Resend answered 503")

    with pytest.raises(EmailProviderUnavailableError):
        await world.worker.deliver_batch([first.id, second.id])
    with pytest.raises(EmailProviderUnavailableError):
        await world.worker.deliver_batch([first.id, second.id], last_attempt=True)

    for delivery in (first, second):
        stored = await world.deliveries.get(delivery.id)
        assert stored is not None
        assert stored.status is S.FAILED
