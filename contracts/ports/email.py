"""Conformance of an ``EmailSender``: what every email adapter promises.

Provide two fixtures:

- ``email_sender``: the adapter under test;
- ``sent_emails``: an async callable returning the messages the adapter recorded or
  handed to its provider so far, oldest first, as ``EmailMessage`` values (for the SQL
  outbox, the rows read back in the same transaction; for a provider adapter, what its
  local stand-in received).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import msgspec

from core.notifications import EmailMessage, EmailSender

SentEmails = Callable[[], Awaitable[Sequence[EmailMessage]]]


def an_email(key: str = "contracts.email.1", **changes: object) -> EmailMessage:
    message = EmailMessage(
        to="ada@example.com",
        subject="Verify your email",
        text="Open https://app.example.com/verify?token=abc to verify.",
        html='<p>Open <a href="https://app.example.com/verify?token=abc">this link</a>.</p>',
        category="contracts.verify_email",
        idempotency_key=key,
    )
    return msgspec.structs.replace(message, **changes)


class EmailSenderContract:
    async def test_a_sent_message_is_recorded_with_every_field(
        self, email_sender: EmailSender, sent_emails: SentEmails
    ) -> None:
        message = an_email()

        await email_sender.send(message)

        assert list(await sent_emails()) == [message]

    async def test_the_html_part_is_optional(
        self, email_sender: EmailSender, sent_emails: SentEmails
    ) -> None:
        message = an_email(html=None)

        await email_sender.send(message)

        assert list(await sent_emails()) == [message]

    async def test_the_same_idempotency_key_twice_sends_once(
        self, email_sender: EmailSender, sent_emails: SentEmails
    ) -> None:
        message = an_email("contracts.email.once")

        await email_sender.send(message)
        await email_sender.send(message)

        assert list(await sent_emails()) == [message]

    async def test_different_idempotency_keys_send_each_message(
        self, email_sender: EmailSender, sent_emails: SentEmails
    ) -> None:
        first = an_email("contracts.email.first")
        second = an_email("contracts.email.second")  # the same content, another key

        await email_sender.send(first)
        await email_sender.send(second)

        assert list(await sent_emails()) == [first, second]

    async def test_non_ascii_text_and_long_bodies_survive(
        self, email_sender: EmailSender, sent_emails: SentEmails
    ) -> None:
        message = an_email(
            to="zoe@example.com",
            subject="Ünïcödé — 你好 🔑",
            text="Grüße\n" + "line of text\n" * 2000,
            html="<p>Grüße — 你好</p>",
        )

        await email_sender.send(message)

        assert list(await sent_emails()) == [message]
