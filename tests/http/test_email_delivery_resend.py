"""Email end to end through Resend: identity's emails go through the notifications
system, the delivery job hands them to Resend (the real SDK against the local
stand-in), and Resend's Svix-signed delivery webhooks move each delivery on and fill
the suppression list that later sends respect."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from adapters.sql.notifications.deliveries import (
    SqlDeliveryStore,
    SqlProviderEventLog,
    SqlSuppressionList,
)
from core.kernel import FixedClock
from core.notifications import (
    Delivery,
    DeliveryFilter,
    DeliveryStatus,
    NotificationRequest,
    Recipient,
    SuppressionReason,
)
from entrypoints.containers import ApplicationContainer
from entrypoints.settings import Settings
from entrypoints.testing.plugin import settings_with
from entrypoints.testing.resend_standin import (
    DEFAULT_API_KEY,
    DEFAULT_WEBHOOK_SECRET,
    ResendStandin,
    sign_svix,
)
from entrypoints.testing.workflows import run_jobs

WEBHOOK = "/webhooks/email/resend"


@pytest.fixture
def standin() -> Iterator[ResendStandin]:
    with ResendStandin(api_key=DEFAULT_API_KEY) as running:
        yield running


@pytest.fixture
def settings(settings: Settings, standin: ResendStandin) -> Settings:
    return settings_with(
        settings,
        email_provider="resend",
        resend_api_key=DEFAULT_API_KEY,
        resend_webhook_secret=DEFAULT_WEBHOOK_SECRET,
        resend_base_url=standin.url,
        email_from="Ninefold <no-reply@example.com>",
    )


async def sign_up(client: httpx.AsyncClient, email: str = "ada@example.com") -> None:
    response = await client.post(
        "/api/v1/auth/sign-up",
        json={"email": email, "password": "correct horse battery staple", "name": "Ada"},
    )
    assert response.status_code == 202, response.text


async def deliveries_to(container: ApplicationContainer, address: str) -> list[Delivery]:
    async with container.unit_of_work() as uow:
        found = await SqlDeliveryStore(uow.session).page(
            DeliveryFilter(address=address), before=None, limit=50
        )
    return list(reversed(found))


async def post_webhook(
    client: httpx.AsyncClient,
    clock: FixedClock,
    body: bytes,
    *,
    event_id: str,
    secret: str = DEFAULT_WEBHOOK_SECRET,
    sent_at: int | None = None,
) -> httpx.Response:
    stamp = int(clock.now().timestamp()) if sent_at is None else sent_at
    headers = sign_svix(secret, event_id, stamp, body)
    return await client.post(WEBHOOK, content=body, headers=headers)


async def test_a_verification_email_goes_to_resend_and_its_reports_move_it_on(
    client: httpx.AsyncClient,
    container: ApplicationContainer,
    clock: FixedClock,
    standin: ResendStandin,
) -> None:
    await sign_up(client)
    (queued,) = await deliveries_to(container, "ada@example.com")
    assert (queued.notification_type, queued.status) == ("identity.verify_email", "queued")
    assert standin.emails == []  # nothing leaves inside the request

    await run_jobs(container)

    (sent_email,) = standin.emails
    assert sent_email.idempotency_key == queued.idempotency_key
    assert sent_email.payload["subject"] == "Confirm your email address"
    assert {"name": "category", "value": "identity-verify_email"} in sent_email.payload["tags"]
    assert "html" in sent_email.payload  # multipart: text and HTML
    (sent,) = await deliveries_to(container, "ada@example.com")
    assert (sent.status, sent.provider, sent.provider_message_id) == (
        DeliveryStatus.SENT,
        "resend",
        sent_email.id,
    )

    body = standin.webhook_event(sent_email.id, "email.delivered")
    first = await post_webhook(client, clock, body, event_id="msg_delivered")
    replayed = await post_webhook(client, clock, body, event_id="msg_delivered")
    await run_jobs(container)

    assert first.status_code == 200, first.text
    assert first.json() == {"received": True, "duplicate": False}
    assert replayed.json() == {"received": True, "duplicate": True}
    (delivered,) = await deliveries_to(container, "ada@example.com")
    assert delivered.status is DeliveryStatus.DELIVERED
    assert delivered.delivered_at is not None
    async with container.unit_of_work() as uow:
        stored = await SqlProviderEventLog(uow.session).get("resend", "msg_delivered")
    assert stored is not None
    assert (stored.outcome, stored.payload) == ("applied", body)


async def test_a_hard_bounce_suppresses_the_address_and_the_next_email_is_not_attempted(
    client: httpx.AsyncClient,
    container: ApplicationContainer,
    clock: FixedClock,
    standin: ResendStandin,
) -> None:
    await sign_up(client)
    await run_jobs(container)
    (sent_email,) = standin.emails

    bounced = standin.webhook_event(sent_email.id, "email.bounced", bounce_type="Permanent")
    assert (await post_webhook(client, clock, bounced, event_id="msg_bounce")).status_code == 200
    await run_jobs(container)

    async with container.unit_of_work() as uow:
        suppression = await SqlSuppressionList(uow.session).get("ada@example.com")
    assert suppression is not None
    assert suppression.reason is SuppressionReason.BOUNCE
    forgot = await client.post("/api/v1/auth/password/forgot", json={"email": "ada@example.com"})
    assert forgot.status_code == 202
    await run_jobs(container)

    verify, reset = await deliveries_to(container, "ada@example.com")
    assert verify.status is DeliveryStatus.BOUNCED
    assert (reset.notification_type, reset.status) == (
        "identity.reset_password",
        DeliveryStatus.SUPPRESSED,
    )
    assert len(standin.emails) == 1  # recorded, not attempted


async def test_a_report_that_arrives_before_the_send_is_recorded_waits_for_it(
    client: httpx.AsyncClient,
    container: ApplicationContainer,
    clock: FixedClock,
    standin: ResendStandin,
) -> None:
    body = standin.webhook_event("4ef9a417-02e9-4d39-ad75-9611e0fcc33c", "email.delivered")

    response = await post_webhook(client, clock, body, event_id="msg_early")
    await run_jobs(container)

    assert response.status_code == 200
    async with container.unit_of_work() as uow:
        stored = await SqlProviderEventLog(uow.session).get("resend", "msg_early")
    assert stored is not None
    assert stored.outcome is None  # its job waits to try again


async def test_a_bad_stale_or_foreign_signature_is_refused_and_nothing_is_kept(
    client: httpx.AsyncClient,
    container: ApplicationContainer,
    clock: FixedClock,
    standin: ResendStandin,
) -> None:
    body = standin.webhook_event("4ef9a417-02e9-4d39-ad75-9611e0fcc33c", "email.delivered")
    other_secret = "whsec_" + "b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldA=="
    stale = int((clock.now() - timedelta(minutes=10)).timestamp())

    answers = [
        await post_webhook(client, clock, body, event_id="msg_1", secret=other_secret),
        await post_webhook(client, clock, body, event_id="msg_2", sent_at=stale),
        await client.post(WEBHOOK, content=body),  # no signature at all
        await client.post(
            WEBHOOK,
            content=body + b" ",  # signed, then changed on the way
            headers=sign_svix(DEFAULT_WEBHOOK_SECRET, "msg_3", int(clock.now().timestamp()), body),
        ),
    ]

    for answer in answers:
        assert answer.status_code == 400, answer.text
        assert answer.json()["type"].endswith("notifications/invalid-webhook-signature")
    async with container.unit_of_work() as uow:
        log = SqlProviderEventLog(uow.session)
        assert [await log.get("resend", f"msg_{n}") for n in (1, 2, 3)] == [None, None, None]


async def test_a_provider_outage_is_retried_with_the_same_idempotency_key(
    client: httpx.AsyncClient,
    container: ApplicationContainer,
    clock: FixedClock,
    standin: ResendStandin,
) -> None:
    standin.fail_next(503)
    await sign_up(client)

    await run_jobs(container)
    (waiting,) = await deliveries_to(container, "ada@example.com")
    assert waiting.status is DeliveryStatus.QUEUED
    assert standin.emails == []

    clock.advance(timedelta(minutes=5))
    await run_jobs(container)

    (sent,) = await deliveries_to(container, "ada@example.com")
    assert sent.status is DeliveryStatus.SENT
    (email,) = standin.emails
    assert email.idempotency_key == sent.idempotency_key


async def test_webhooks_of_a_provider_not_in_use_are_not_found(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    container.settings.override(settings_with(container.settings(), email_provider="outbox"))

    response = await client.post(WEBHOOK, content=b"{}")

    assert response.status_code == 404
    assert response.json()["type"].endswith("notifications/email-webhook-not-configured")


def broadcast(n: int) -> list[NotificationRequest]:
    return [
        NotificationRequest(
            type="billing.payment_failed",
            recipient=Recipient(email=f"admin{i}@example.com"),
            data={
                "workspace_name": "Acme",
                "amount": "€49.00",
                "access_until": "2030-01-08",
                "billing_url": "https://app.example.com/billing",
            },
            idempotency_key=f"broadcast:{i}",
        )
        for i in range(n)
    ]


async def test_a_broadcast_goes_to_resend_in_one_batch_call(
    container: ApplicationContainer, standin: ResendStandin
) -> None:
    async with container.unit_of_work() as uow:
        await container.notifications.notifier(uow=uow).notify_many(broadcast(3))
        await uow.commit()

    await run_jobs(container)

    assert [e.batch for e in standin.emails] == [True, True, True]
    assert len(standin.requests) == 1
    sent = [(await deliveries_to(container, f"admin{i}@example.com"))[0] for i in range(3)]
    assert [d.status for d in sent] == [DeliveryStatus.SENT] * 3
    assert [d.provider_message_id for d in sent] == [e.id for e in standin.emails]


async def test_a_refused_batch_is_sent_one_by_one(
    container: ApplicationContainer, standin: ResendStandin
) -> None:
    standin.fail_next(422)
    async with container.unit_of_work() as uow:
        await container.notifications.notifier(uow=uow).notify_many(broadcast(2))
        await uow.commit()

    await run_jobs(container)

    assert [e.batch for e in standin.emails] == [False, False]
    for i in range(2):
        (delivery,) = await deliveries_to(container, f"admin{i}@example.com")
        assert delivery.status is DeliveryStatus.SENT
