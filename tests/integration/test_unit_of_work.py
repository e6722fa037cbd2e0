"""One transaction per unit of work: a change and its events are stored together or
not at all, and the relay publishes exactly what was committed."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from adapters.sql.identity.tables import users
from adapters.sql.workflows.tables import outbox
from core.identity import EmailTakenError, UserRegistered
from core.kernel import FixedClock
from entrypoints.containers import ApplicationContainer
from entrypoints.testing.workflows import job_runner, run_jobs


async def count(container: ApplicationContainer, table: object) -> int:
    async with container.unit_of_work() as uow:
        query = select(func.count()).select_from(table)  # type: ignore[arg-type]
        return int((await uow.session.execute(query)).scalar_one())


def listen(container: ApplicationContainer) -> list[str]:
    heard: list[str] = []

    async def on_registered(event: UserRegistered) -> None:
        heard.append(event.email)

    container.workflows.event_bus().subscribe(UserRegistered, on_registered)
    return heard


async def register(container: ApplicationContainer, email: str, *, commit: bool) -> None:
    async with container.unit_of_work() as uow:
        await container.identity.service(uow=uow).register_user(email, "", "correct horse")
        if commit:
            await uow.commit()


async def test_a_committed_change_is_stored_with_its_event_and_published(
    container: ApplicationContainer,
) -> None:
    heard = listen(container)

    await register(container, "ada@example.com", commit=True)

    assert await count(container, users) == 1
    assert await count(container, outbox) == 1
    assert await run_jobs(container) == 1  # one subscriber, one delivery job
    assert heard == ["ada@example.com"]


async def test_a_rolled_back_change_leaves_neither_data_nor_event(
    container: ApplicationContainer,
) -> None:
    heard = listen(container)

    await register(container, "ada@example.com", commit=False)

    assert await count(container, users) == 0
    assert await count(container, outbox) == 0
    assert await container.workflows.outbox_relay().drain() == 0
    assert heard == []


async def test_a_failing_use_case_publishes_nothing_of_its_transaction(
    container: ApplicationContainer,
) -> None:
    heard = listen(container)
    await register(container, "ada@example.com", commit=True)
    await run_jobs(container)

    async def register_bob_then_ada_again() -> None:
        async with container.unit_of_work() as uow:
            service = container.identity.service(uow=uow)
            await service.register_user("bob@example.com", "", "correct horse")
            await service.register_user("ADA@example.com", "", "correct horse")
            await uow.commit()

    with pytest.raises(EmailTakenError):
        await register_bob_then_ada_again()

    assert await count(container, users) == 1
    assert await run_jobs(container) == 0
    assert heard == ["ada@example.com"]


async def test_an_event_claimed_by_a_relay_that_crashed_is_delivered_after_its_lease(
    container: ApplicationContainer, clock: FixedClock
) -> None:
    heard = listen(container)
    await register(container, "ada@example.com", commit=True)
    async with container.unit_of_work() as crashed:  # claims, then dies before settling
        await crashed.outbox.claim(10, clock.now(), clock.now() + timedelta(seconds=60))
        await crashed.commit()

    assert await run_jobs(container) == 0
    clock.advance(timedelta(seconds=61))
    assert await run_jobs(container) == 1
    assert heard == ["ada@example.com"]


async def test_concurrent_relays_never_claim_the_same_message(
    container: ApplicationContainer, clock: FixedClock
) -> None:
    for n in range(20):
        await register(container, f"user{n}@example.com", commit=True)

    async def claim() -> set[str]:
        async with container.unit_of_work() as uow:
            batch = await uow.outbox.claim(15, clock.now(), clock.now() + timedelta(minutes=1))
            await uow.commit()
        return {message.id for message in batch}

    first, second = await asyncio.gather(claim(), claim())

    assert not first & second
    assert len(first | second) == 20


async def test_a_commit_with_events_wakes_the_relay(container: ApplicationContainer) -> None:
    wakeup = container.outbox_wakeup()
    assert not wakeup.is_set()

    await register(container, "ada@example.com", commit=True)

    assert wakeup.is_set()


async def test_a_running_relay_delivers_soon_after_the_commit(
    container: ApplicationContainer,
) -> None:
    delivered = asyncio.Event()

    async def on_registered(event: UserRegistered) -> None:
        delivered.set()

    container.workflows.event_bus().subscribe(UserRegistered, on_registered)
    runner = job_runner(container)
    stop = asyncio.Event()
    relay = asyncio.create_task(
        container.workflows.outbox_relay().run_forever(poll_interval=30, stop=stop)
    )
    jobs = asyncio.create_task(runner.run_forever(stop))
    try:
        await register(container, "ada@example.com", commit=True)
        # Well before the 30 s poll: the commit woke the relay, and the relay the runner.
        await asyncio.wait_for(delivered.wait(), timeout=5)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(relay, jobs), timeout=10)
