"""What the notifications system needs from outside."""

from __future__ import annotations

from typing import Protocol

from core.notifications.model import EmailMessage
from core.notifications.sms import SmsMessage


class EmailSender(Protocol):
    """Hands an email over for delivery. Implementations must be idempotent on
    ``message.idempotency_key``. The embedded default stores the message in the
    database's mail outbox inside the caller's transaction, so an email exists exactly
    when the change that caused it was committed."""

    async def send(self, message: EmailMessage) -> None: ...


class SmsSender(Protocol):
    """Hands a text message over for delivery. Implementations must be idempotent on
    ``message.idempotency_key`` and must refuse, with ``check_sms``, a message that
    breaks the SMS rules (a ``to`` that is not E.164, an empty or too long body) before
    recording or sending anything. The embedded default stores it in the database's SMS
    outbox inside the caller's transaction."""

    async def send(self, message: SmsMessage) -> None: ...


class PhoneNumberParser(Protocol):
    """Turns a phone number as a person typed it (national format, spaces, dashes)
    into E.164, using ``default_region`` (ISO 3166 alpha-2, ``"FR"``) for a number
    without a country code. Raises ``InvalidPhoneNumberError`` when it is no valid
    number."""

    def normalize(self, raw: str, default_region: str | None = None) -> str: ...
