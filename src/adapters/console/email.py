"""Echo emails to the terminal in development, so links in them can be clicked."""

from __future__ import annotations

import sys
from typing import TextIO

from core.notifications import EmailMessage, EmailSender

RULE = "-" * 72
# Control characters (ANSI escapes included) from user-supplied text must not drive the
# terminal; tabs and newlines are kept.
_CONTROLS = {c: "?" for c in [*range(0x20), *range(0x7F, 0xA0)] if chr(c) not in "\t\n"}


class ConsoleEchoEmailSender:
    """``EmailSender`` decorator: delegates to ``inner``, then prints the recipient, the
    subject and the text body to ``stream`` (standard error when ``None``, looked up at
    each send so that redirections and pytest's capture apply).

    For development only: it prints whatever the email carries, sign-in and verification
    links included. It echoes what was handed over, even if the caller's transaction
    later rolls back, and echoes a repeated send again although ``inner`` ignores it.
    If ``inner`` raises, nothing is printed.
    """

    def __init__(self, inner: EmailSender, stream: TextIO | None = None) -> None:
        self._inner = inner
        self._stream = stream

    async def send(self, message: EmailMessage) -> None:
        await self._inner.send(message)
        stream = self._stream if self._stream is not None else sys.stderr
        stream.write(render(message))
        stream.flush()


def render(message: EmailMessage) -> str:
    """The block printed for one email."""
    lines = [
        f"---- email ({message.category}) ".ljust(len(RULE), "-"),
        f"To:      {message.to}",
        f"Subject: {message.subject}",
        "",
        message.text.rstrip("\n"),
    ]
    if message.html is not None:
        lines += ["", "(an HTML version goes with it; not shown)"]
    return "\n".join([*lines, RULE, ""]).translate(_CONTROLS)
