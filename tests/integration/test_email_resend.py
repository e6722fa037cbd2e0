"""The Resend adapter, with the real ``resend`` SDK, against the local stand-in."""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Iterator, Sequence

import msgspec
import pytest

from adapters.resend import ResendEmailSender, category_from_tag, category_tag
from contracts.ports.email import EmailSenderContract, SentEmails, an_email
from core.notifications import (
    EmailMessage,
    EmailProviderUnavailableError,
    EmailRejectedError,
)
from entrypoints.testing.resend_standin import ResendStandin, StandinEmail

API_KEY = "re_test_Sup3rSecretKeyThatMustNeverLeak"
SENDER = "Ninefold <no-reply@example.com>"


def as_message(email: StandinEmail) -> EmailMessage:
    """What the stand-in received, read back as the message that was sent."""
    payload = email.payload
    tags = {tag["name"]: tag["value"] for tag in payload.get("tags", [])}
    assert payload["from"] == SENDER
    assert payload["to"] == [payload["to"][0]]
    assert email.idempotency_key is not None
    return EmailMessage(
        to=payload["to"][0],
        subject=payload["subject"],
        text=payload["text"],
        html=payload.get("html"),
        category=category_from_tag(tags["category"]),
        idempotency_key=email.idempotency_key,
        headers=payload.get("headers"),
    )


@pytest.fixture
def standin() -> Iterator[ResendStandin]:
    with ResendStandin(api_key=API_KEY) as running:
        yield running


@pytest.fixture
def sender(standin: ResendStandin) -> ResendEmailSender:
    return ResendEmailSender(api_key=API_KEY, sender=SENDER, base_url=standin.url)


class TestResendEmailSenderConformance(EmailSenderContract):
    @pytest.fixture
    def email_sender(self, sender: ResendEmailSender) -> ResendEmailSender:
        return sender

    @pytest.fixture
    def sent_emails(self, standin: ResendStandin) -> SentEmails:
        async def read() -> Sequence[EmailMessage]:
            return [as_message(email) for email in standin.emails]

        return read


async def test_every_send_carries_the_idempotency_key_the_tag_and_both_parts(
    sender: ResendEmailSender, standin: ResendStandin
) -> None:
    await sender.send(an_email("identity.verify_email.usr_1", category="identity.verify_email"))

    [request] = standin.requests
    assert request.path == "/emails"
    assert request.headers["idempotency-key"] == "identity.verify_email.usr_1"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    body = json.loads(request.body)
    assert body["tags"] == [{"name": "category", "value": "identity-verify_email"}]
    assert body["text"].startswith("Open https://")
    assert body["html"].startswith("<p>")
    assert body["to"] == ["ada@example.com"]
    assert body["from"] == SENDER


def test_category_tags_use_only_the_characters_resend_allows() -> None:
    assert category_tag("identity.verify_email") == "identity-verify_email"
    assert category_from_tag("identity-verify_email") == "identity.verify_email"
    assert category_tag("billing.trial ends/soon!") == "billing-trial_ends_soon_"


async def test_headers_arrive_for_list_unsubscribe(
    sender: ResendEmailSender, standin: ResendStandin
) -> None:
    headers = {
        "List-Unsubscribe": "<https://app.example.com/unsubscribe?t=abc>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    message = an_email(headers=headers)

    await sender.send(message)

    [email] = standin.emails
    assert email.payload["headers"] == headers
    assert as_message(email) == message


async def test_deliver_returns_resends_id_and_the_same_id_for_a_repeat(
    sender: ResendEmailSender, standin: ResendStandin
) -> None:
    first = await sender.deliver(an_email("k.repeat"))
    again = await sender.deliver(an_email("k.repeat"))

    assert first == again == standin.emails[0].id
    assert len(standin.emails) == 1
    assert len(standin.requests) == 2


async def test_the_same_key_for_another_message_is_rejected(
    sender: ResendEmailSender, standin: ResendStandin
) -> None:
    await sender.send(an_email("k.reused"))

    with pytest.raises(EmailRejectedError) as raised:
        await sender.send(an_email("k.reused", subject="Something else"))

    assert "invalid_idempotent_request" in str(raised.value)
    assert len(standin.emails) == 1


async def test_a_batch_of_250_goes_in_calls_of_at_most_100(
    sender: ResendEmailSender, standin: ResendStandin
) -> None:
    messages = [an_email(f"k.batch.{n}", to=f"user{n}@example.com") for n in range(250)]

    ids = await sender.send_batch(messages)

    assert [len(json.loads(r.body)) for r in standin.requests] == [100, 100, 50]
    assert all(r.path == "/emails/batch" for r in standin.requests)
    keys = [r.headers["idempotency-key"] for r in standin.requests]
    assert len(set(keys)) == 3
    assert all(key.startswith("batch-") for key in keys)
    assert ids == [email.id for email in standin.emails]
    assert [e.payload["to"] for e in standin.emails] == [[m.to] for m in messages]
    tags = standin.emails[0].payload["tags"]
    assert tags == [{"name": "category", "value": "contracts-verify_email"}]


async def test_a_retried_batch_sends_nothing_twice(
    sender: ResendEmailSender, standin: ResendStandin
) -> None:
    messages = [an_email(f"k.retry.{n}", to=f"user{n}@example.com") for n in range(150)]
    standin.fail_next(500)

    with pytest.raises(EmailProviderUnavailableError):
        await sender.send_batch(messages)
    first_ids = await sender.send_batch(messages)
    second_ids = await sender.send_batch(messages)

    assert first_ids == second_ids
    assert len(standin.emails) == 150


async def test_a_batch_repeating_a_key_sends_that_message_once(
    sender: ResendEmailSender, standin: ResendStandin
) -> None:
    first, second = an_email("k.dup.1"), an_email("k.dup.2")

    ids = await sender.send_batch([first, second, first])

    assert len(standin.emails) == 2
    assert ids[0] == ids[2] != ids[1]
    assert await sender.send_batch([]) == []


@pytest.mark.parametrize("status", [400, 422])
async def test_a_validation_error_is_rejected_and_not_retryable(
    sender: ResendEmailSender, standin: ResendStandin, status: int
) -> None:
    standin.fail_next(status, "validation_error", "Invalid `to` field.")

    with pytest.raises(EmailRejectedError) as raised:
        await sender.send(an_email())

    assert "Invalid `to` field." in str(raised.value)
    assert raised.value.extra["provider_status"] == status
    assert not isinstance(raised.value, EmailProviderUnavailableError)


async def test_an_invalid_message_is_refused_by_the_standin_as_by_resend(
    sender: ResendEmailSender,
) -> None:
    with pytest.raises(EmailRejectedError, match="`headers` must be an object of strings"):
        await sender.send(an_email(headers={"X-Bad": 1}))  # type: ignore[dict-item]


@pytest.mark.parametrize(
    ("status", "name"),
    [(429, "rate_limit_exceeded"), (500, "application_error"), (503, "service_unavailable")],
)
async def test_rate_limits_and_server_errors_are_retryable(
    sender: ResendEmailSender, standin: ResendStandin, status: int, name: str
) -> None:
    standin.fail_next(status, name, "Too many requests, or the server had a problem.")

    with pytest.raises(EmailProviderUnavailableError) as raised:
        await sender.send(an_email())

    assert "Too many requests" in str(raised.value)
    assert raised.value.extra["provider_status"] == status
    await sender.send(an_email())  # the retry with the same key goes through
    assert len(standin.emails) == 1


async def test_a_network_failure_is_retryable() -> None:
    with ResendStandin(api_key=API_KEY) as gone:
        url = gone.url
    sender = ResendEmailSender(api_key=API_KEY, sender=SENDER, base_url=url)

    with pytest.raises(EmailProviderUnavailableError, match="could not be reached"):
        await sender.send(an_email())


async def test_a_wrong_api_key_is_retryable_once_the_operator_fixes_it(
    standin: ResendStandin,
) -> None:
    sender = ResendEmailSender(api_key="re_wrong", sender=SENDER, base_url=standin.url)

    with pytest.raises(EmailProviderUnavailableError, match="invalid_api_key"):
        await sender.send(an_email())


async def test_two_senders_with_different_settings_do_not_mix(standin: ResendStandin) -> None:
    with ResendStandin(api_key="re_other_key") as other:
        ours = ResendEmailSender(api_key=API_KEY, sender=SENDER, base_url=standin.url)
        theirs = ResendEmailSender(api_key="re_other_key", sender=SENDER, base_url=other.url)

        for n in range(5):
            await ours.send(an_email(f"k.ours.{n}"))
            await theirs.send(an_email(f"k.theirs.{n}"))

        assert len(standin.emails) == len(other.emails) == 5


async def test_the_api_key_appears_in_no_log_and_no_error(
    sender: ResendEmailSender, standin: ResendStandin, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    texts = [repr(sender)]
    for status in (422, 429, 500):
        standin.fail_next(status)
        with pytest.raises((EmailRejectedError, EmailProviderUnavailableError)) as raised:
            await sender.send(an_email(f"k.secret.{status}"))
        texts += [str(raised.value), repr(raised.value), *traceback.format_exception(raised.value)]
        texts.append(msgspec.json.encode(raised.value.extra).decode())
    await sender.send(an_email("k.secret.ok"))

    assert API_KEY not in caplog.text
    assert not any(API_KEY in text for text in texts)


def test_a_sender_needs_a_key_and_an_address() -> None:
    with pytest.raises(ValueError, match="API key"):
        ResendEmailSender(api_key="", sender=SENDER)
    with pytest.raises(ValueError, match="sender"):
        ResendEmailSender(api_key=API_KEY, sender="")


async def test_the_container_builds_the_sender_only_when_resend_is_selected(
    standin: ResendStandin,
) -> None:
    from entrypoints.containers import build_container, close_container
    from entrypoints.settings import Settings

    selected = Settings(
        email_provider="resend",
        resend_api_key=API_KEY,
        resend_webhook_secret="whsec_test",
        resend_base_url=standin.url,
        email_from=SENDER,
    )
    container = build_container(selected)
    try:
        built = container.notifications.email_transport()
        # Behind the "email" circuit breaker, which passes isinstance on to the adapter.
        assert isinstance(built, ResendEmailSender)
        assert "Breaker" in repr(built)
        assert container.notifications.email_transport() is built
        await built.send(an_email("k.container"))
        assert len(standin.emails) == 1
    finally:
        await close_container(container)

    default = build_container(Settings())
    try:
        assert default.notifications.email_transport() is None
    finally:
        await close_container(default)
