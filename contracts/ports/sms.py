"""Conformance of an ``SmsSender``: what every SMS adapter promises.

Provide two fixtures:

- ``sms_sender``: the adapter under test, with the default maximum of
  ``DEFAULT_MAX_SEGMENTS`` (10) segments;
- ``sent_sms``: an async callable returning what the adapter recorded or handed to its
  provider so far, oldest first, as ``RecordedSms`` values: the ``SmsMessage`` and how
  its body is sent (for the SQL outbox, the rows read back in the same transaction; for
  a provider adapter, what its local stand-in received, with the segments the stand-in
  reported or ``sms_segments`` of the body it received).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import msgspec
import pytest

from core.notifications import (
    DEFAULT_MAX_SEGMENTS,
    InvalidPhoneNumberError,
    InvalidSmsBodyError,
    SmsMessage,
    SmsSender,
    SmsTooLongError,
)


class RecordedSms(msgspec.Struct, frozen=True, kw_only=True):
    """A message as the adapter recorded it, with how its body is sent (``"GSM-7"`` or
    ``"UCS-2"``, and the number of segments)."""

    message: SmsMessage
    encoding: str
    segments: int


SentSms = Callable[[], Awaitable[Sequence[RecordedSms]]]


def an_sms(key: str = "contracts.sms.1", **changes: object) -> SmsMessage:
    message = SmsMessage(
        to="+14155550123",
        body="Your ninefold code is 123456. It expires in 10 minutes.",
        category="contracts.sign_in_code",
        idempotency_key=key,
    )
    return msgspec.structs.replace(message, **changes)


async def _messages(sent_sms: SentSms) -> list[SmsMessage]:
    return [recorded.message for recorded in await sent_sms()]


class SmsSenderContract:
    async def test_a_sent_message_is_recorded_with_every_field(
        self, sms_sender: SmsSender, sent_sms: SentSms
    ) -> None:
        message = an_sms()

        await sms_sender.send(message)

        assert await _messages(sent_sms) == [message]

    async def test_the_same_idempotency_key_twice_sends_once(
        self, sms_sender: SmsSender, sent_sms: SentSms
    ) -> None:
        message = an_sms("contracts.sms.once")

        await sms_sender.send(message)
        await sms_sender.send(message)

        assert await _messages(sent_sms) == [message]

    async def test_a_second_message_with_a_used_key_is_not_sent(
        self, sms_sender: SmsSender, sent_sms: SentSms
    ) -> None:
        first = an_sms("contracts.sms.reused")

        await sms_sender.send(first)
        await sms_sender.send(an_sms("contracts.sms.reused", body="Another body"))

        assert await _messages(sent_sms) == [first]

    async def test_different_idempotency_keys_send_each_message(
        self, sms_sender: SmsSender, sent_sms: SentSms
    ) -> None:
        first = an_sms("contracts.sms.first")
        second = an_sms("contracts.sms.second")  # the same content, another key

        await sms_sender.send(first)
        await sms_sender.send(second)

        assert await _messages(sent_sms) == [first, second]

    @pytest.mark.parametrize(
        "number",
        [
            "14155550123",  # no +
            "+1 415 555 0123",  # spaces
            "+1-415-555-0123",
            "+04155550123",  # a country code never starts with 0
            "+1",  # too short
            "+1234567890123456",  # 16 digits
            "+١٤١٥٥٥٥٠١٢٣",  # digits, but not ASCII ones
            "+14155550123\n",
            "",
        ],
    )
    async def test_a_number_that_is_not_e164_is_refused_before_anything_is_recorded(
        self, sms_sender: SmsSender, sent_sms: SentSms, number: str
    ) -> None:
        with pytest.raises(InvalidPhoneNumberError) as raised:
            await sms_sender.send(an_sms("contracts.sms.bad-number", to=number))

        assert raised.value.type == "notifications/invalid-phone-number"
        assert raised.value.extra["field"] == "to"
        assert await _messages(sent_sms) == []

    async def test_a_refused_message_does_not_use_up_its_key(
        self, sms_sender: SmsSender, sent_sms: SentSms
    ) -> None:
        fixed = an_sms("contracts.sms.fixed")

        with pytest.raises(InvalidPhoneNumberError):
            await sms_sender.send(an_sms("contracts.sms.fixed", to="0612345678"))
        await sms_sender.send(fixed)

        assert await _messages(sent_sms) == [fixed]

    async def test_an_empty_body_is_refused(self, sms_sender: SmsSender, sent_sms: SentSms) -> None:
        with pytest.raises(InvalidSmsBodyError):
            await sms_sender.send(an_sms(body=""))

        assert await _messages(sent_sms) == []

    async def test_a_body_over_the_maximum_of_segments_is_refused(
        self, sms_sender: SmsSender, sent_sms: SentSms
    ) -> None:
        longest = "a" * (DEFAULT_MAX_SEGMENTS * 153)

        with pytest.raises(SmsTooLongError) as raised:
            await sms_sender.send(an_sms("contracts.sms.too-long", body=longest + "a"))
        await sms_sender.send(an_sms("contracts.sms.longest", body=longest))

        assert raised.value.type == "notifications/sms-too-long"
        assert [r.segments for r in await sent_sms()] == [DEFAULT_MAX_SEGMENTS]

    async def test_the_segments_and_encoding_are_recorded(
        self, sms_sender: SmsSender, sent_sms: SentSms
    ) -> None:
        await sms_sender.send(an_sms("contracts.sms.gsm", body="a" * 161))
        await sms_sender.send(an_sms("contracts.sms.ucs2", body="Bonjour 😀 " * 10))

        recorded = [(r.encoding, r.segments) for r in await sent_sms()]
        assert recorded == [("GSM-7", 2), ("UCS-2", 2)]

    async def test_non_gsm_text_and_multipart_bodies_survive(
        self, sms_sender: SmsSender, sent_sms: SentSms
    ) -> None:
        message = an_sms(
            to="+33612345678",
            body="Grüße — 你好 🔑 {code}: [€5] ~ ^ | \\\n" * 12,
        )

        await sms_sender.send(message)

        assert await _messages(sent_sms) == [message]
