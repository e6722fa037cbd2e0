"""The mail outbox beyond the port's contract: transactions, rows, the ops read helpers."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import msgspec
import pytest
from sqlalchemy import func, select

from adapters.sql.notifications.outbox import SqlEmailOutbox, get_email, list_emails
from adapters.sql.notifications.tables import emails
from adapters.sql.uow import SqlUnitOfWork
from adapters.sql.workflows.tables import outbox as events_outbox
from core.kernel import DomainEvent, FixedClock, is_valid_id
from core.notifications import EmailMessage
from entrypoints.containers import ApplicationContainer


def an_email(key: str, to: str = "ada@example.com", **changes: object) -> EmailMessage:
    message = EmailMessage(
        to=to,
        subject="Verify your email",
        text="Open https://app.example.com/verify?token=abc",
        category="identity.verify_email",
        idempotency_key=key,
    )
    return msgspec.structs.replace(message, **changes)


def outbox_of(uow: SqlUnitOfWork, container: ApplicationContainer) -> SqlEmailOutbox:
    return SqlEmailOutbox(uow.session, container.kernel.clock(), container.kernel.ids())


async def stored(container: ApplicationContainer, to: str | None = None) -> list[str]:
    async with container.unit_of_work() as uow:
        return [email.idempotency_key for email in await list_emails(uow.session, 100, to=to)]


class Noted(DomainEvent, frozen=True, kw_only=True):
    name = "tests.noted"


async def test_an_email_sent_in_a_rolled_back_unit_of_work_is_not_stored(
    container: ApplicationContainer,
) -> None:
    async with container.unit_of_work() as uow:
        await outbox_of(uow, container).send(an_email("rolled-back"))
        await uow.rollback()
    async with container.unit_of_work() as uow:
        await outbox_of(uow, container).send(an_email("never-committed"))
    # leaving the block without commit() rolls back

    assert await stored(container) == []


async def test_a_committed_email_is_queued_with_an_eml_id_and_the_clock_time(
    container: ApplicationContainer, clock: FixedClock
) -> None:
    async with container.unit_of_work() as uow:
        await outbox_of(uow, container).send(an_email("committed", html="<p>hi</p>"))
        await uow.commit()

    async with container.unit_of_work() as uow:
        (email,) = await list_emails(uow.session, 10)
        assert await get_email(uow.session, email.id) == email
        assert await get_email(uow.session, "eml_unknown") is None
    assert is_valid_id(email.id, "eml")
    assert email.status == "queued"
    assert email.created_at == clock.now()
    assert email.message == an_email("committed", html="<p>hi</p>")


async def test_a_key_committed_earlier_is_not_queued_again_in_a_later_transaction(
    container: ApplicationContainer, clock: FixedClock
) -> None:
    for _ in range(2):
        async with container.unit_of_work() as uow:
            await outbox_of(uow, container).send(an_email("once"))
            await uow.commit()
        clock.advance(timedelta(minutes=1))

    assert await stored(container) == ["once"]


async def test_a_duplicate_leaves_the_rest_of_the_transaction_intact(
    container: ApplicationContainer, clock: FixedClock
) -> None:
    async with container.unit_of_work() as uow:
        sender = outbox_of(uow, container)
        await sender.send(an_email("dup"))
        await sender.send(an_email("dup"))
        await sender.send(an_email("after"))
        uow.raise_event(Noted(occurred_at=clock.now()))
        await uow.commit()

    assert sorted(await stored(container)) == ["after", "dup"]
    async with container.unit_of_work() as uow:
        count = select(func.count()).select_from(events_outbox)
        assert (await uow.session.execute(count)).scalar_one() == 1


@pytest.mark.parametrize(("first_commits", "stored_subject"), [(True, "first"), (False, "second")])
async def test_two_transactions_sending_one_key_at_once_store_it_once(
    container: ApplicationContainer, first_commits: bool, stored_subject: str
) -> None:
    async def send_second() -> None:
        async with container.unit_of_work() as second:
            await outbox_of(second, container).send(an_email("race", subject="second"))
            await second.commit()

    async with container.unit_of_work() as first:
        await outbox_of(first, container).send(an_email("race", subject="first"))
        racer = asyncio.create_task(send_second())
        await asyncio.sleep(0.2)
        assert not racer.done()  # waits for the first transaction to end
        if first_commits:
            await first.commit()
    await asyncio.wait_for(racer, timeout=10)

    async with container.unit_of_work() as uow:
        assert [e.subject for e in await list_emails(uow.session, 10)] == [stored_subject]


async def test_emails_are_listed_newest_first_limited_and_by_recipient(
    container: ApplicationContainer, clock: FixedClock
) -> None:
    async with container.unit_of_work() as uow:
        sender = outbox_of(uow, container)
        for key, to in [("1", "ada@example.com"), ("2", "bob@example.com"), ("3", "ada@ex.com")]:
            await sender.send(an_email(key, to=to))
            clock.advance(timedelta(seconds=1))
        await uow.commit()

    async with container.unit_of_work() as uow:
        assert [e.idempotency_key for e in await list_emails(uow.session, 2)] == ["3", "2"]
        with pytest.raises(ValueError, match="limit"):
            await list_emails(uow.session, 0)
    assert await stored(container, to="ada@example.com") == ["1"]
    assert await stored(container, to="nobody@example.com") == []


@pytest.mark.parametrize(
    "changes",
    [{"to": "a" * 321}, {"category": "c" * 121}, {"idempotency_key": "k" * 256}],
    ids=["to", "category", "idempotency_key"],
)
async def test_values_longer_than_their_column_are_refused_on_every_backend(
    container: ApplicationContainer, changes: dict[str, str]
) -> None:
    async with container.unit_of_work() as uow:
        with pytest.raises(ValueError, match="longer than"):
            await outbox_of(uow, container).send(an_email("long", **changes))
        count = select(func.count()).select_from(emails)
        assert (await uow.session.execute(count)).scalar_one() == 0
