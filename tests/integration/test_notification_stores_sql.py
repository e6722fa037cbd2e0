"""The SQL notification stores: the ports' conformance suites on SQLite and PostgreSQL,
then what only SQL shows (transactions, the rows, the outbox's headers and status)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from adapters.sql.notifications.deliveries import (
    SqlDeliveryStore,
    SqlProviderEventLog,
    SqlSuppressionList,
)
from adapters.sql.notifications.inbox import SqlInboxStore
from adapters.sql.notifications.outbox import (
    SqlEmailOutbox,
    SqlOutboxReader,
    get_email,
    list_emails,
)
from adapters.sql.notifications.preferences import SqlPreferenceStore
from adapters.sql.notifications.sms import SqlSmsOutbox, list_sms
from adapters.sql.notifications.tables import emails, preferences, sms
from adapters.sql.uow import SqlUnitOfWork
from contracts.ports.deliveries import (
    DeliveryStoreContract,
    OutboxReaderContract,
    OutboxStatus,
    ProviderEventLogContract,
    SuppressionListContract,
    a_delivery,
    a_suppression,
    an_event,
)
from contracts.ports.email import an_email
from contracts.ports.inbox import InboxStoreContract, a_notification
from contracts.ports.preferences import PreferenceStoreContract
from contracts.ports.sms import an_sms
from core.kernel import FixedClock
from core.notifications import Channel, PreferenceChoice
from core.notifications.deliveries import DeliveryStatus
from entrypoints.containers import ApplicationContainer

HEADERS = {
    "List-Unsubscribe": "<https://app.example.com/u/abc>, <mailto:u@example.com>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
}


@pytest.fixture
async def uow(container: ApplicationContainer) -> AsyncIterator[SqlUnitOfWork]:
    """One open unit of work, never committed."""
    async with container.unit_of_work() as opened:
        yield opened


class TestSqlDeliveryStore(DeliveryStoreContract):
    @pytest.fixture
    def delivery_store(self, uow: SqlUnitOfWork) -> SqlDeliveryStore:
        return SqlDeliveryStore(uow.session)


class TestSqlSuppressionList(SuppressionListContract):
    @pytest.fixture
    def suppression_list(self, uow: SqlUnitOfWork) -> SqlSuppressionList:
        return SqlSuppressionList(uow.session)


class TestSqlProviderEventLog(ProviderEventLogContract):
    @pytest.fixture
    def provider_event_log(self, uow: SqlUnitOfWork) -> SqlProviderEventLog:
        return SqlProviderEventLog(uow.session)


class TestSqlOutboxReader(OutboxReaderContract):
    @pytest.fixture
    def outbox_reader(self, uow: SqlUnitOfWork) -> SqlOutboxReader:
        return SqlOutboxReader(uow.session)

    @pytest.fixture
    def email_sender(self, uow: SqlUnitOfWork, container: ApplicationContainer) -> SqlEmailOutbox:
        return SqlEmailOutbox(uow.session, container.kernel.clock(), container.kernel.ids())

    @pytest.fixture
    def sms_sender(self, uow: SqlUnitOfWork, container: ApplicationContainer) -> SqlSmsOutbox:
        return SqlSmsOutbox(uow.session, container.kernel.clock(), container.kernel.ids())

    @pytest.fixture
    def outbox_status(self, uow: SqlUnitOfWork) -> OutboxStatus:
        async def status(channel: Channel, key: str) -> str | None:
            table = emails if channel is Channel.EMAIL else sms
            query = select(table.c.status).where(table.c.idempotency_key == key)
            return (await uow.session.execute(query)).scalar_one_or_none()

        return status


class TestSqlInboxStore(InboxStoreContract):
    @pytest.fixture
    def inbox_store(self, uow: SqlUnitOfWork) -> SqlInboxStore:
        return SqlInboxStore(uow.session)


class TestSqlPreferenceStore(PreferenceStoreContract):
    @pytest.fixture
    def preference_store(
        self, uow: SqlUnitOfWork, container: ApplicationContainer
    ) -> SqlPreferenceStore:
        return SqlPreferenceStore(uow.session, container.kernel.clock())


# --- beyond the contracts ----------------------------------------------------------------


async def test_the_mail_outbox_stores_and_returns_headers(
    container: ApplicationContainer,
) -> None:
    async with container.unit_of_work() as uow:
        outbox = SqlEmailOutbox(uow.session, container.kernel.clock(), container.kernel.ids())
        await outbox.send(an_email("with-headers", headers=HEADERS))
        await outbox.send(an_email("empty-headers", headers={}))
        await outbox.send(an_email("no-headers"))
        await uow.commit()

    async with container.unit_of_work() as uow:
        stored = {e.idempotency_key: e for e in await list_emails(uow.session, 10)}
        fetched = await get_email(uow.session, stored["with-headers"].id)
        raw = await uow.session.execute(select(emails.c.idempotency_key, emails.c.headers))
        columns = {row.idempotency_key: row.headers for row in raw}
        read_back = await SqlOutboxReader(uow.session).email("with-headers")

    assert fetched is not None
    assert fetched.headers == HEADERS
    assert stored["with-headers"].message == an_email("with-headers", headers=HEADERS)
    assert stored["empty-headers"].headers == {}
    assert stored["no-headers"].headers is None
    assert read_back == an_email("with-headers", headers=HEADERS)
    assert columns["no-headers"] is None
    assert columns["empty-headers"] == "{}"


async def test_marking_outbox_rows_is_kept_when_the_job_commits(
    container: ApplicationContainer,
) -> None:
    async with container.unit_of_work() as uow:
        ids, clock = container.kernel.ids(), container.kernel.clock()
        await SqlEmailOutbox(uow.session, clock, ids).send(an_email("mail"))
        await SqlSmsOutbox(uow.session, clock, ids).send(an_sms("text"))
        await uow.commit()

    async with container.unit_of_work() as uow:
        reader = SqlOutboxReader(uow.session)
        await reader.mark(Channel.EMAIL, "mail", DeliveryStatus.SENT)
        await reader.mark(Channel.SMS, "text", DeliveryStatus.SUPPRESSED)
        await reader.mark(Channel.SMS, "mail", DeliveryStatus.FAILED)  # no SMS with that key
        await uow.commit()

    async with container.unit_of_work() as uow:
        (mail,) = await list_emails(uow.session, 10)
        (text,) = await list_sms(uow.session, 10)
    assert (mail.status, text.status) == ("sent", "suppressed")


async def test_duplicates_leave_the_transaction_usable_and_the_first_rows_committed(
    container: ApplicationContainer,
) -> None:
    delivery = a_delivery("sql.dup:email")
    async with container.unit_of_work() as uow:
        store, log = SqlDeliveryStore(uow.session), SqlProviderEventLog(uow.session)
        suppressions = SqlSuppressionList(uow.session)
        assert await store.add(delivery)
        assert await log.record(an_event(), b"{}", delivery.queued_at)
        assert await suppressions.add(a_suppression("ada@example.com"))
        await uow.commit()

    async with container.unit_of_work() as uow:
        store, log = SqlDeliveryStore(uow.session), SqlProviderEventLog(uow.session)
        suppressions = SqlSuppressionList(uow.session)
        assert not await store.add(a_delivery("sql.dup:email"))
        assert not await log.record(an_event(), b"[]", delivery.queued_at)
        assert not await suppressions.add(a_suppression("ADA@example.com"))
        assert await store.add(a_delivery("sql.after:email"))
        await uow.commit()

    async with container.unit_of_work() as uow:
        store = SqlDeliveryStore(uow.session)
        assert await store.by_key("sql.dup:email") == delivery
        assert await store.by_key("sql.after:email") is not None


async def test_an_inbox_read_in_another_transaction_sees_what_was_committed(
    container: ApplicationContainer,
) -> None:
    notification = a_notification()
    async with container.unit_of_work() as uow:
        await SqlInboxStore(uow.session).add(notification)
        await uow.commit()

    async with container.unit_of_work() as uow:
        inbox = SqlInboxStore(uow.session)
        assert await inbox.get(notification.user_id, notification.id) == notification
        changed = await inbox.mark_read(
            notification.user_id, [notification.id], notification.created_at
        )
        assert changed == 1
        await uow.rollback()

    async with container.unit_of_work() as uow:
        assert (
            await SqlInboxStore(uow.session).unread_count(notification.user_id, workspace_id=None)
            == 1
        )


async def test_a_preference_row_is_stamped_with_the_clock_and_restamped_on_change(
    container: ApplicationContainer, clock: FixedClock
) -> None:
    first = clock.now()
    async with container.unit_of_work() as uow:
        store = SqlPreferenceStore(uow.session, clock)
        await store.save("usr_1", [PreferenceChoice("billing", Channel.EMAIL, True)])
        await store.save("usr_1", [PreferenceChoice("billing", Channel.SMS, True)])
        clock.advance(timedelta(minutes=5))
        await store.save("usr_1", [PreferenceChoice("billing", Channel.EMAIL, False)])
        await uow.commit()

    async with container.unit_of_work() as uow:
        rows = await uow.session.execute(
            select(preferences.c.channel, preferences.c.enabled, preferences.c.updated_at)
        )
        stamped = {row.channel: (row.enabled, row.updated_at) for row in rows}
    assert stamped == {"email": (False, clock.now()), "sms": (True, first)}


@pytest.mark.parametrize(
    "changes",
    [
        {"address": "a" * 321},
        {"idempotency_key": "k" * 256},
        {"notification_type": "t" * 121},
        {"provider_message_id": "m" * 256},
    ],
    ids=["address", "idempotency_key", "notification_type", "provider_message_id"],
)
async def test_delivery_values_longer_than_their_column_are_refused_on_every_backend(
    uow: SqlUnitOfWork, changes: dict[str, str]
) -> None:
    store = SqlDeliveryStore(uow.session)

    with pytest.raises(ValueError, match="longer than"):
        await store.add(a_delivery("sql.long:email", **changes))

    assert await store.add(a_delivery("sql.fine:email"))  # the transaction is still usable


async def test_other_values_longer_than_their_column_are_refused(uow: SqlUnitOfWork) -> None:
    with pytest.raises(ValueError, match="longer than"):
        await SqlSuppressionList(uow.session).add(a_suppression("a" * 321))
    with pytest.raises(ValueError, match="longer than"):
        await SqlProviderEventLog(uow.session).record(
            an_event("e" * 256), b"", a_delivery("x").queued_at
        )
    with pytest.raises(ValueError, match="longer than"):
        await SqlInboxStore(uow.session).add(a_notification(category="c" * 121))
    with pytest.raises(ValueError, match="longer than"):
        await SqlPreferenceStore(uow.session).save(
            "u" * 41, [PreferenceChoice("b", Channel.SMS, True)]
        )
