"""Conformance of a ``UnitOfWork`` and its ``OutboxStore``: what the outbox promises.

Provide a fixture ``open_session``: a callable returning a fresh ``OutboxSession``
(a unit of work, unopened, with ``.uow`` and ``.outbox``), all sharing one store; and
``clock``, the ``FixedClock`` those sessions use.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import cast

from core.kernel import DomainEvent, FixedClock, decode_event
from core.workflows import OutboxSession

LEASE = timedelta(seconds=30)


class Noted(DomainEvent, frozen=True, kw_only=True):
    name = "contracts.noted"

    text: str


async def _commit(open_session: Callable[[], OutboxSession], *texts: str) -> None:
    session = open_session()
    async with session.uow:
        for text in texts:
            session.uow.raise_event(Noted(occurred_at=FixedClock().now(), text=text))
        await session.uow.commit()


async def _claim(open_session: Callable[[], OutboxSession], clock: FixedClock) -> list[str]:
    session = open_session()
    async with session.uow:
        now = clock.now()
        batch = await session.outbox.claim(100, now, now + LEASE)
        await session.uow.commit()
    return [cast(Noted, decode_event(Noted, m.payload)).text for m in batch]


class OutboxContract:
    async def test_committed_events_become_pending_messages_in_order(
        self, open_session: Callable[[], OutboxSession], clock: FixedClock
    ) -> None:
        await _commit(open_session, "first", "second")
        await _commit(open_session, "third")

        assert await _claim(open_session, clock) == ["first", "second", "third"]

    async def test_rolled_back_events_never_reach_the_outbox(
        self, open_session: Callable[[], OutboxSession], clock: FixedClock
    ) -> None:
        session = open_session()
        async with session.uow:
            session.uow.raise_event(Noted(occurred_at=clock.now(), text="lost"))
            await session.uow.rollback()
        session = open_session()
        async with session.uow:
            session.uow.raise_event(Noted(occurred_at=clock.now(), text="never committed"))
        # leaving the block without commit() rolls back

        assert await _claim(open_session, clock) == []

    async def test_a_claimed_message_is_leased_until_the_lease_passes(
        self, open_session: Callable[[], OutboxSession], clock: FixedClock
    ) -> None:
        await _commit(open_session, "once")

        assert await _claim(open_session, clock) == ["once"]
        assert await _claim(open_session, clock) == []
        clock.advance(LEASE + timedelta(seconds=1))
        assert await _claim(open_session, clock) == ["once"]

    async def test_published_messages_are_no_longer_pending(
        self, open_session: Callable[[], OutboxSession], clock: FixedClock
    ) -> None:
        await _commit(open_session, "done", "open")
        session = open_session()
        async with session.uow:
            batch = await session.outbox.claim(1, clock.now(), clock.now() + LEASE)
            await session.outbox.mark_published(batch[0].id, clock.now())
            await session.uow.commit()
            assert await session.outbox.pending_count() == 1

        clock.advance(LEASE * 2)
        assert await _claim(open_session, clock) == ["open"]

    async def test_a_failed_message_waits_until_its_retry_time_and_counts_attempts(
        self, open_session: Callable[[], OutboxSession], clock: FixedClock
    ) -> None:
        await _commit(open_session, "flaky")
        session = open_session()
        async with session.uow:
            (message,) = await session.outbox.claim(10, clock.now(), clock.now() + LEASE)
            await session.outbox.mark_failed(message.id, "boom", clock.now() + timedelta(seconds=5))
            await session.uow.commit()

        clock.advance(timedelta(seconds=2))
        assert await _claim(open_session, clock) == []
        clock.advance(timedelta(seconds=4))
        session = open_session()
        async with session.uow:
            (again,) = await session.outbox.claim(10, clock.now(), clock.now() + LEASE)
            await session.uow.commit()
        assert again.attempts == 1
        assert again.last_error == "boom"

    async def test_after_commit_callbacks_run_after_commit_and_never_on_rollback(
        self, open_session: Callable[[], OutboxSession]
    ) -> None:
        ran: list[str] = []

        async def note(label: str) -> None:
            ran.append(label)

        session = open_session()
        async with session.uow:
            session.uow.after_commit(lambda: note("rolled back"))
            await session.uow.rollback()
        session = open_session()
        async with session.uow:
            session.uow.after_commit(lambda: note("committed"))
            assert ran == []
            await session.uow.commit()

        assert ran == ["committed"]
