"""In-memory fake of the notifications system's ``Notifier``, for other systems' unit
tests: it records each request once per idempotency key and sends nothing."""

from __future__ import annotations

from collections.abc import Sequence

from core.notifications import Delivery, NotificationRequest


class InMemoryNotifier:
    def __init__(self) -> None:
        self.sent: list[NotificationRequest] = []
        self._keys: set[str] = set()

    async def notify(self, request: NotificationRequest) -> tuple[Delivery, ...]:
        if request.idempotency_key not in self._keys:
            self._keys.add(request.idempotency_key)
            self.sent.append(request)
        return ()

    async def notify_many(
        self, requests: Sequence[NotificationRequest]
    ) -> tuple[tuple[Delivery, ...], ...]:
        return tuple([await self.notify(request) for request in requests])

    def sent_to(self, address: str) -> list[NotificationRequest]:
        """The requests whose recipient has the email ``address``, oldest first."""
        return [request for request in self.sent if request.recipient.email == address]
