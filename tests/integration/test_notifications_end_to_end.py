"""Messages of every sending system through the real composition root: the send use
case, the templates, the outbox and the delivery job, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from adapters.sql.notifications.deliveries import SqlDeliveryStore
from adapters.sql.notifications.outbox import list_emails
from core.notifications import (
    Channel,
    DeliveryStatus,
    NotificationRequest,
    Recipient,
    TemplateError,
)
from entrypoints.containers import ApplicationContainer
from entrypoints.testing.workflows import run_jobs

ADA = Recipient(user_id="usr_ada", email="ada@example.com", name="Ada")
BILLING = {
    "billing.payment_failed": {
        "workspace_name": "Acme",
        "amount": "€49.00",
        "access_until": "2030-01-08",
        "billing_url": "https://app.example.com/billing",
    },
    "billing.credits_low": {
        "workspace_name": "Acme",
        "balance": "120 credits",
        "threshold": "500 credits",
        "billing_url": "https://app.example.com/billing",
    },
}


async def notify(
    container: ApplicationContainer, kind: str, data: dict[str, object], recipient: Recipient = ADA
) -> None:
    async with container.unit_of_work() as uow:
        await container.notifications.notifier(uow=uow).notify(
            NotificationRequest(type=kind, recipient=recipient, data=data, idempotency_key=kind)
        )
        await uow.commit()


@pytest.mark.parametrize("kind", sorted(BILLING))
async def test_billing_messages_are_rendered_stored_and_delivered(
    container: ApplicationContainer, kind: str
) -> None:
    await notify(container, kind, BILLING[kind])

    ran = await run_jobs(container)

    assert ran >= 1
    async with container.unit_of_work() as uow:
        (email,) = await list_emails(uow.session, 10, to="ada@example.com")
        deliveries = {
            d.channel: d
            for d in [
                await SqlDeliveryStore(uow.session).by_key(f"{kind}:{channel.value}")
                for channel in (Channel.EMAIL, Channel.IN_APP)
            ]
            if d is not None
        }
    assert email.category == kind
    assert "Acme" in email.subject + email.text
    assert email.html is not None
    assert "<html" in email.html.lower()
    assert email.status == "sent"  # the outbox row mirrors its delivery
    assert deliveries[Channel.EMAIL].status is DeliveryStatus.SENT
    assert deliveries[Channel.EMAIL].provider == "outbox"
    assert deliveries[Channel.IN_APP].status is DeliveryStatus.DELIVERED
    assert (email.headers is not None) == (kind == "billing.credits_low")  # opt-out only


async def test_a_locale_variant_is_used_and_others_fall_back(
    container: ApplicationContainer,
) -> None:
    data = {"name": "Zoé", "link": "https://app.example.com/verify-email?token=t", "hours": 48}
    french = Recipient(user_id="usr_zoe", email="zoe@example.com", name="Zoé", locale="fr-CA")
    german = Recipient(user_id="usr_max", email="max@example.com", name="Max", locale="de")

    await notify(container, "identity.verify_email", data, french)
    async with container.unit_of_work() as uow:
        await container.notifications.notifier(uow=uow).notify(
            NotificationRequest(
                type="identity.verify_email", recipient=german, data=data, idempotency_key="de"
            )
        )
        await uow.commit()

    async with container.unit_of_work() as uow:
        (zoe,) = await list_emails(uow.session, 10, to="zoe@example.com")
        (max_,) = await list_emails(uow.session, 10, to="max@example.com")
    assert zoe.subject != max_.subject
    assert max_.subject == "Confirm your email address"


async def test_missing_template_data_fails_the_send_and_stores_nothing(
    container: ApplicationContainer,
) -> None:
    with pytest.raises(TemplateError):
        await notify(container, "billing.payment_failed", {"workspace_name": "Acme"})

    async with container.unit_of_work() as uow:
        assert await list_emails(uow.session, 10) == []
