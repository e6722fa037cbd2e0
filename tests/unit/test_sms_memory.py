"""The in-memory ``SmsSender`` passes the SMS conformance suite."""

from __future__ import annotations

import pytest

from adapters.memory.sms import InMemorySmsSender
from contracts.ports.sms import RecordedSms, SentSms, SmsSenderContract, an_sms
from core.notifications import SmsTooLongError


class TestInMemorySmsSender(SmsSenderContract):
    @pytest.fixture
    def sms_sender(self) -> InMemorySmsSender:
        return InMemorySmsSender()

    @pytest.fixture
    def sent_sms(self, sms_sender: InMemorySmsSender) -> SentSms:
        async def sent() -> list[RecordedSms]:
            recorded = []
            for message in sms_sender.sent:
                segments = sms_sender.segments[message.idempotency_key]
                recorded.append(
                    RecordedSms(
                        message=message, encoding=segments.encoding, segments=segments.segments
                    )
                )
            return recorded

        return sent


async def test_sent_to_filters_by_number_and_clear_forgets_the_keys() -> None:
    sender = InMemorySmsSender()
    ada, bob = an_sms("1", to="+14155550123"), an_sms("2", to="+33612345678")
    await sender.send(ada)
    await sender.send(bob)

    assert sender.sent_to("+33612345678") == [bob]

    sender.clear()
    await sender.send(ada)
    assert sender.sent == [ada]


async def test_the_maximum_of_segments_is_configurable() -> None:
    sender = InMemorySmsSender(max_segments=1)

    with pytest.raises(SmsTooLongError):
        await sender.send(an_sms(body="a" * 161))
    assert sender.sent == []
