"""In-memory fake of the notifications system's ``EmailSender``."""

from __future__ import annotations

from core.notifications import EmailMessage


class InMemoryEmailSender:
    """Keeps every message it is given in ``sent``, in order, once per idempotency key.

    Like the other fakes it ignores transactions: a message sent in a unit of work that
    is rolled back stays in ``sent``.
    """

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []
        self._keys: set[str] = set()

    async def send(self, message: EmailMessage) -> None:
        if message.idempotency_key in self._keys:
            return
        self._keys.add(message.idempotency_key)
        self.sent.append(message)

    def sent_to(self, address: str) -> list[EmailMessage]:
        """The messages sent to ``address``, oldest first."""
        return [message for message in self.sent if message.to == address]

    def clear(self) -> None:
        self.sent.clear()
        self._keys.clear()
