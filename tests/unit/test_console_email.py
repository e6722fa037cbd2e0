"""The console echo: what a developer sees in the terminal when the app sends an email."""

from __future__ import annotations

import io

import msgspec
import pytest

from adapters.console.email import ConsoleEchoEmailSender
from adapters.memory.notifications import InMemoryEmailSender
from core.notifications import EmailMessage


def an_email(key: str, **changes: object) -> EmailMessage:
    message = EmailMessage(
        to="ada@example.com",
        subject="Verify your email",
        text="Open https://app.example.com/verify?token=abc",
        category="identity.verify_email",
        idempotency_key=key,
    )
    return msgspec.structs.replace(message, **changes)


async def test_the_console_echo_delegates_then_prints_recipient_subject_and_text() -> None:
    inner, stream = InMemoryEmailSender(), io.StringIO()
    message = an_email("echo", html="<p>hi</p>")

    await ConsoleEchoEmailSender(inner, stream).send(message)

    assert inner.sent == [message]
    printed = stream.getvalue()
    assert "identity.verify_email" in printed
    assert "To:      ada@example.com" in printed
    assert "Subject: Verify your email" in printed
    assert "https://app.example.com/verify?token=abc" in printed
    assert "<p>hi</p>" not in printed


async def test_the_console_echo_writes_to_standard_error_by_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    await ConsoleEchoEmailSender(InMemoryEmailSender()).send(an_email("stderr"))

    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Verify your email" in captured.err


async def test_the_console_echo_prints_nothing_when_the_inner_sender_fails() -> None:
    class Failing:
        async def send(self, message: EmailMessage) -> None:
            raise RuntimeError("down")

    stream = io.StringIO()

    with pytest.raises(RuntimeError, match="down"):
        await ConsoleEchoEmailSender(Failing(), stream).send(an_email("fail"))
    assert stream.getvalue() == ""


async def test_the_console_echo_does_not_pass_terminal_control_sequences_through() -> None:
    stream = io.StringIO()

    await ConsoleEchoEmailSender(InMemoryEmailSender(), stream).send(
        an_email("ansi", subject="Hi \x1b[31mred\x1b[0m", text="line\n\ttab\x07")
    )

    printed = stream.getvalue()
    assert "\x1b" not in printed
    assert "\x07" not in printed
    assert "Hi ?[31mred?[0m" in printed
    assert "line\n\ttab?" in printed
