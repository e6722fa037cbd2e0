"""What the notifications system needs from outside."""

from __future__ import annotations

from typing import Protocol

from core.notifications.model import EmailMessage


class EmailSender(Protocol):
    """Hands an email over for delivery. Implementations must be idempotent on
    ``message.idempotency_key``. The embedded default stores the message in the
    database's mail outbox inside the caller's transaction, so an email exists exactly
    when the change that caused it was committed."""

    async def send(self, message: EmailMessage) -> None: ...
