"""In-memory fake of the notifications system's ``SmsSender``."""

from __future__ import annotations

from core.notifications import DEFAULT_MAX_SEGMENTS, SmsMessage, SmsSegments, check_sms


class InMemorySmsSender:
    """Keeps every text message it is given in ``sent``, in order, once per idempotency
    key, after the same checks as every ``SmsSender`` (``check_sms``); ``segments``
    maps each key to how its body is sent.

    Like the other fakes it ignores transactions: a message sent in a unit of work that
    is rolled back stays in ``sent``.
    """

    def __init__(self, max_segments: int = DEFAULT_MAX_SEGMENTS) -> None:
        self.sent: list[SmsMessage] = []
        self.segments: dict[str, SmsSegments] = {}
        self._max_segments = max_segments

    async def send(self, message: SmsMessage) -> None:
        segments = check_sms(message, self._max_segments)
        if message.idempotency_key in self.segments:
            return
        self.segments[message.idempotency_key] = segments
        self.sent.append(message)

    def sent_to(self, number: str) -> list[SmsMessage]:
        """The messages sent to ``number`` (E.164), oldest first."""
        return [message for message in self.sent if message.to == number]

    def clear(self) -> None:
        self.sent.clear()
        self.segments.clear()
