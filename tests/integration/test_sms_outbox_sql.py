"""The SMS outbox: the port's contract on SQLite and PostgreSQL, then transactions,
rows, the ops read helpers and the container's provider."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from adapters.sql.notifications.sms import SqlSmsOutbox, get_sms, list_sms
from adapters.sql.notifications.tables import sms
from adapters.sql.uow import SqlUnitOfWork
from contracts.ports.sms import RecordedSms, SentSms, SmsSenderContract, an_sms
from core.kernel import FixedClock, is_valid_id
from core.notifications import InvalidPhoneNumberError, SmsTooLongError
from entrypoints.containers import ApplicationContainer


def outbox_of(uow: SqlUnitOfWork, container: ApplicationContainer) -> SqlSmsOutbox:
    return SqlSmsOutbox(uow.session, container.kernel.clock(), container.kernel.ids())


async def stored(container: ApplicationContainer, **filters: str) -> list[str]:
    async with container.unit_of_work() as uow:
        return [text.idempotency_key for text in await list_sms(uow.session, 100, **filters)]


class TestSqlSmsOutbox(SmsSenderContract):
    @pytest.fixture
    async def outbox_session(self, container: ApplicationContainer) -> AsyncIterator[SqlUnitOfWork]:
        async with container.unit_of_work() as uow:
            yield uow

    @pytest.fixture
    def sms_sender(
        self, outbox_session: SqlUnitOfWork, container: ApplicationContainer
    ) -> SqlSmsOutbox:
        return outbox_of(outbox_session, container)

    @pytest.fixture
    def sent_sms(self, outbox_session: SqlUnitOfWork) -> SentSms:
        async def sent() -> list[RecordedSms]:
            rows = await list_sms(outbox_session.session, limit=1000)
            return [
                RecordedSms(message=row.message, encoding=row.encoding, segments=row.segments)
                for row in reversed(rows)
            ]

        return sent


async def test_the_container_binds_an_sms_sender_to_the_unit_of_works_session(
    container: ApplicationContainer,
) -> None:
    async with container.unit_of_work() as uow:
        sender = container.notifications.sms_sender(uow.session)
        assert isinstance(sender, SqlSmsOutbox)
        await sender.send(an_sms("from-the-container"))
        await uow.commit()

    assert await stored(container) == ["from-the-container"]


async def test_an_sms_sent_in_a_rolled_back_unit_of_work_is_not_stored(
    container: ApplicationContainer,
) -> None:
    async with container.unit_of_work() as uow:
        await outbox_of(uow, container).send(an_sms("rolled-back"))
        await uow.rollback()
    async with container.unit_of_work() as uow:
        await outbox_of(uow, container).send(an_sms("never-committed"))

    assert await stored(container) == []


async def test_a_committed_sms_is_queued_with_an_sms_id_its_segments_and_the_clock_time(
    container: ApplicationContainer, clock: FixedClock
) -> None:
    message = an_sms("committed", body="Ton code : 123456 😀 " * 4)
    async with container.unit_of_work() as uow:
        await outbox_of(uow, container).send(message)
        await uow.commit()

    async with container.unit_of_work() as uow:
        (text,) = await list_sms(uow.session, 10)
        assert await get_sms(uow.session, text.id) == text
        assert await get_sms(uow.session, "sms_unknown") is None
    assert is_valid_id(text.id, "sms")
    assert text.status == "queued"
    assert (text.encoding, text.segments) == ("UCS-2", 2)
    assert text.created_at == clock.now()
    assert text.message == message


async def test_a_key_committed_earlier_is_not_queued_again_in_a_later_transaction(
    container: ApplicationContainer, clock: FixedClock
) -> None:
    for _ in range(2):
        async with container.unit_of_work() as uow:
            await outbox_of(uow, container).send(an_sms("once"))
            await uow.commit()
        clock.advance(timedelta(minutes=1))

    assert await stored(container) == ["once"]


async def test_a_refused_message_leaves_the_transaction_usable(
    container: ApplicationContainer,
) -> None:
    async with container.unit_of_work() as uow:
        sender = outbox_of(uow, container)
        with pytest.raises(InvalidPhoneNumberError):
            await sender.send(an_sms("bad", to="+33 6 12 34 56 78"))
        with pytest.raises(SmsTooLongError):
            await sender.send(an_sms("long", body="x" * 2000))
        await sender.send(an_sms("good"))
        await uow.commit()

    assert await stored(container) == ["good"]


async def test_sms_are_listed_newest_first_limited_by_number_and_status(
    container: ApplicationContainer, clock: FixedClock
) -> None:
    async with container.unit_of_work() as uow:
        sender = outbox_of(uow, container)
        for key, to in [("1", "+14155550123"), ("2", "+33612345678"), ("3", "+14155550124")]:
            await sender.send(an_sms(key, to=to))
            clock.advance(timedelta(seconds=1))
        await uow.commit()

    async with container.unit_of_work() as uow:
        assert [t.idempotency_key for t in await list_sms(uow.session, 2)] == ["3", "2"]
        with pytest.raises(ValueError, match="limit"):
            await list_sms(uow.session, 0)
    assert await stored(container, to="+14155550123") == ["1"]
    assert await stored(container, to="+10000000000") == []
    assert await stored(container, status="queued") == ["3", "2", "1"]
    assert await stored(container, status="sent") == []


@pytest.mark.parametrize(
    "changes",
    [{"category": "c" * 121}, {"idempotency_key": "k" * 256}],
    ids=["category", "idempotency_key"],
)
async def test_values_longer_than_their_column_are_refused_on_every_backend(
    container: ApplicationContainer, changes: dict[str, str]
) -> None:
    async with container.unit_of_work() as uow:
        with pytest.raises(ValueError, match="longer than"):
            await outbox_of(uow, container).send(an_sms("long", **changes))
        count = select(func.count()).select_from(sms)
        assert (await uow.session.execute(count)).scalar_one() == 0
