"""Text messages (SMS): the message, the E.164 rule and how a body splits into segments.

Every ``SmsSender`` calls ``check_sms`` before it records or sends anything, so the same
rules hold for the outbox, the fake and any provider adapter:

- ``to`` is strict E.164: ``+``, then 2 to 15 ASCII digits, the first one 1-9. Turning
  what a person typed (``(415) 555-0123``, ``0612 34 56 78``) into E.164 needs numbering
  plan data and belongs to a ``PhoneNumberParser`` adapter, not here.
- the body is not empty and fits in ``max_segments`` segments (10 by default).

Segments follow GSM 03.38 / 3GPP TS 23.038. A body made only of GSM-7 characters is sent
in GSM-7: 160 septets in a single message, 153 per part once it is split (the user data
header takes the rest). The extension table characters (``^ { } \\ [ ~ ] | €`` and form
feed) are an escape plus a character: 2 septets each. Any other character makes the
whole body UCS-2: 70 UTF-16 code units single, 67 per part; a character outside the
Basic Multilingual Plane (most emoji) is a surrogate pair, 2 code units. A part never
ends in the middle of an escape sequence or a surrogate pair: such a character moves
whole to the next part, which can leave a part one unit short (as phones do).
"""

from __future__ import annotations

import re
from typing import Final, Literal

import msgspec

from core.notifications.errors import (
    InvalidPhoneNumberError,
    InvalidSmsBodyError,
    SmsTooLongError,
)

DEFAULT_MAX_SEGMENTS = 10

Encoding = Literal["GSM-7", "UCS-2"]
GSM7: Final = "GSM-7"
UCS2: Final = "UCS-2"
_MIN_DIGITS = 2
_BMP_MAX = 0xFFFF

# GSM 03.38 default alphabet (the escape code 0x1B itself is not a character to send).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each is sent as escape + character, 2 septets.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67

E164_MAX_LENGTH = 16  # "+" and 15 digits
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_E164_EXAMPLE = "+14155550123"


class SmsMessage(msgspec.Struct, frozen=True, kw_only=True):
    """One text message to one phone number, already rendered.

    ``to`` is an E.164 number (``+14155550123``). ``idempotency_key`` makes a retried
    send a no-op: the same key is sent at most once. ``category`` names the notification
    type (``identity.sign_in_code``).
    """

    to: str
    body: str
    category: str
    idempotency_key: str


class SmsSegments(msgspec.Struct, frozen=True, kw_only=True):
    """How a body is sent: its encoding, its length in that encoding's units (septets
    for GSM-7, counting 2 for an extension character; UTF-16 code units for UCS-2), the
    number of segments (parts) and the capacity of each one."""

    encoding: Encoding
    characters: int
    segments: int
    per_segment: int


def validate_e164(number: str) -> str:
    """Return ``number`` when it is strict E.164, else raise ``InvalidPhoneNumberError``
    saying what to fix. Nothing is stripped or guessed."""
    if _E164.fullmatch(number):
        return number
    advice = f"write it as + then the country code and number, digits only, like {_E164_EXAMPLE}"
    if not number.startswith("+"):
        problem = "The phone number must start with + and the country code"
    elif not number[1:].isascii() or not number[1:].isdigit():
        problem = "The phone number may contain only digits after the +, no spaces or dashes"
    elif number[1:2] == "0":
        problem = "A country code never starts with 0"
    elif len(number) - 1 < _MIN_DIGITS:
        problem = "The phone number is too short"
    else:
        problem = "The phone number has more than 15 digits"
    raise InvalidPhoneNumberError(f"{problem}: {advice}.", field="to")


def _units(body: str) -> tuple[Encoding, list[int]]:
    """The encoding of ``body`` and the cost of each of its characters in that
    encoding's units."""
    if all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in body):
        return GSM7, [2 if char in GSM7_EXTENSION else 1 for char in body]
    return UCS2, [2 if ord(char) > _BMP_MAX else 1 for char in body]


def _parts(costs: list[int], capacity: int) -> int:
    """Greedy packing: fill each part, moving a 2-unit character whole to the next part
    rather than splitting its escape sequence or surrogate pair."""
    parts, used = 1, 0
    for cost in costs:
        if used + cost > capacity:
            parts, used = parts + 1, 0
        used += cost
    return parts


def sms_segments(body: str) -> SmsSegments:
    """How ``body`` is sent: GSM-7 when every character is in the GSM alphabet, else
    UCS-2, and in how many segments. An empty body still takes one message."""
    encoding, costs = _units(body)
    single, part = (GSM7_SINGLE, GSM7_PART) if encoding == GSM7 else (UCS2_SINGLE, UCS2_PART)
    characters = sum(costs)
    if characters <= single:
        return SmsSegments(encoding=encoding, characters=characters, segments=1, per_segment=single)
    return SmsSegments(
        encoding=encoding,
        characters=characters,
        segments=_parts(costs, part),
        per_segment=part,
    )


def check_sms(message: SmsMessage, max_segments: int = DEFAULT_MAX_SEGMENTS) -> SmsSegments:
    """Refuse a message no ``SmsSender`` may send, and return its segments.

    Raises ``InvalidPhoneNumberError`` for a ``to`` that is not E.164,
    ``InvalidSmsBodyError`` for an empty body and ``SmsTooLongError`` for a body longer
    than ``max_segments`` segments.
    """
    if max_segments < 1:
        raise ValueError("max_segments must be at least 1")
    validate_e164(message.to)
    if not message.body:
        raise InvalidSmsBodyError("The text message is empty: write a body.", field="body")
    segments = sms_segments(message.body)
    if segments.segments > max_segments:
        hint = (
            " Characters outside the GSM alphabet (emoji, curly quotes, most non-Latin"
            " scripts) switch the whole message to UCS-2, 67 per segment."
            if segments.encoding == UCS2
            else ""
        )
        raise SmsTooLongError(
            f"The text message needs {segments.segments} segments and at most"
            f" {max_segments} are allowed: shorten it to {max_segments * segments.per_segment}"
            f" {segments.encoding} units or fewer (it has {segments.characters}).{hint}",
            field="body",
            segments=segments.segments,
            max_segments=max_segments,
        )
    return segments
