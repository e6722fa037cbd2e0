"""``notifications.prune``: old outbox messages, deliveries, provider reports and read
in-app notifications go; recent ones, unread ones, suppressions and preferences stay."""

from __future__ import annotations

from datetime import timedelta

from adapters.sql.notifications.deliveries import (
    SqlDeliveryStore,
    SqlProviderEventLog,
    SqlSuppressionList,
)
from adapters.sql.notifications.inbox import SqlInboxStore
from adapters.sql.notifications.outbox import list_emails
from core.kernel import FixedClock
from core.notifications import (
    DeliveryFilter,
    DeliveryStatus,
    NotificationRequest,
    ProviderEvent,
    Recipient,
    Suppression,
    SuppressionReason,
)
from entrypoints.containers import ApplicationContainer
from entrypoints.jobs import schedules
from entrypoints.notifications import PRUNE_NOTIFICATIONS, PruneNotifications
from entrypoints.testing.workflows import job_runner, run_jobs

ADA = Recipient(user_id="usr_ada", email="ada@example.com", name="Ada")
DATA = {
    "workspace_name": "Acme",
    "amount": "€49.00",
    "access_until": "2030-01-08",
    "billing_url": "https://app.example.com/billing",
}


async def payment_failed(container: ApplicationContainer, key: str) -> None:
    async with container.unit_of_work() as uow:
        await container.notifications.notifier(uow=uow).notify(
            NotificationRequest(
                type="billing.payment_failed", recipient=ADA, data=DATA, idempotency_key=key
            )
        )
        await uow.commit()


async def test_prune_keeps_what_is_recent_unread_or_a_decision(
    container: ApplicationContainer, clock: FixedClock
) -> None:
    await payment_failed(container, "old-read")
    await payment_failed(container, "old-unread")
    await run_jobs(container)
    async with container.unit_of_work() as uow:
        inbox = SqlInboxStore(uow.session)
        old = await inbox.page(
            "usr_ada", workspace_id=None, unread_only=False, before=None, limit=10
        )
        read = old[-1]  # the first one sent: "old-read"
        await inbox.mark_read("usr_ada", [read.id], clock.now())
        await SqlProviderEventLog(uow.session).record(
            ProviderEvent(
                provider="resend",
                event_id="msg_old",
                event_type="email.delivered",
                message_id="m1",
                status=DeliveryStatus.DELIVERED,
                occurred_at=clock.now(),
            ),
            b"{}",
            clock.now(),
        )
        await SqlSuppressionList(uow.session).add(
            Suppression(
                address="gone@example.com",
                reason=SuppressionReason.BOUNCE,
                created_at=clock.now(),
            )
        )
        await uow.commit()
    clock.advance(timedelta(days=91))
    await payment_failed(container, "recent")

    async with container.unit_of_work() as uow:
        await container.workflows.job_queue(uow=uow).enqueue(
            PRUNE_NOTIFICATIONS, PruneNotifications(), idempotency_key="prune-now"
        )
        await uow.commit()
    await run_jobs(container)

    async with container.unit_of_work() as uow:
        emails = await list_emails(uow.session, 10)
        deliveries = await SqlDeliveryStore(uow.session).page(
            DeliveryFilter(), before=None, limit=10
        )
        left = await SqlInboxStore(uow.session).page(
            "usr_ada", workspace_id=None, unread_only=False, before=None, limit=10
        )
        event = await SqlProviderEventLog(uow.session).get("resend", "msg_old")
        suppression = await SqlSuppressionList(uow.session).get("gone@example.com")
    assert [e.idempotency_key for e in emails] == ["recent:email"]
    assert {d.idempotency_key for d in deliveries} == {"recent:email", "recent:in_app"}
    assert read.id not in {n.id for n in left}
    assert len(left) == 2  # the old unread one and the recent one
    assert event is None
    assert suppression is not None


def test_pruning_is_scheduled() -> None:
    assert "notifications.prune" in {schedule.name for schedule in schedules()}


async def test_a_runner_knows_the_prune_job(container: ApplicationContainer) -> None:
    job_runner(container)

    assert container.workflows.registry().get(PRUNE_NOTIFICATIONS.name) is not None
