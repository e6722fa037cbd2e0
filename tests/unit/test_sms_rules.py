"""The SMS rules in core: strict E.164, GSM-7 / UCS-2 segments, the segment maximum."""

from __future__ import annotations

import pytest

from core.kernel import ValidationError
from core.notifications import (
    InvalidPhoneNumberError,
    InvalidSmsBodyError,
    SmsMessage,
    SmsSegments,
    SmsTooLongError,
    check_sms,
    sms_segments,
    validate_e164,
)


def gsm(characters: int, segments: int) -> SmsSegments:
    per = 160 if segments == 1 else 153
    return SmsSegments(encoding="GSM-7", characters=characters, segments=segments, per_segment=per)


def ucs2(characters: int, segments: int) -> SmsSegments:
    per = 70 if segments == 1 else 67
    return SmsSegments(encoding="UCS-2", characters=characters, segments=segments, per_segment=per)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("", gsm(0, 1)),
        ("a", gsm(1, 1)),
        ("a" * 160, gsm(160, 1)),
        ("a" * 161, gsm(161, 2)),
        ("a" * 306, gsm(306, 2)),
        ("a" * 307, gsm(307, 3)),
        ("a" * 459, gsm(459, 3)),
        ("a" * 460, gsm(460, 4)),
        ("ж" * 70, ucs2(70, 1)),
        ("ж" * 71, ucs2(71, 2)),
        ("ж" * 134, ucs2(134, 2)),
        ("ж" * 135, ucs2(135, 3)),
    ],
)
def test_known_vectors(body: str, expected: SmsSegments) -> None:
    assert sms_segments(body) == expected


@pytest.mark.parametrize("char", ["^", "{", "}", "\\", "[", "~", "]", "|", "€", "\f"])
def test_an_extension_character_costs_two_septets(char: str) -> None:
    assert sms_segments(char) == gsm(2, 1)
    assert sms_segments(char * 80) == gsm(160, 1)
    assert sms_segments(char * 81) == gsm(162, 2)


def test_the_whole_gsm_basic_alphabet_stays_gsm7_at_one_septet_each() -> None:
    alphabet = (
        "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
        "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
    )
    assert sms_segments(alphabet) == gsm(len(alphabet), 1)


@pytest.mark.parametrize("char", ["ç", "á", "\u2019", "\u201c", "—", "ж", "你", "\t", "`"])
def test_one_character_outside_the_gsm_alphabet_makes_the_whole_body_ucs2(char: str) -> None:
    assert sms_segments("a" * 69 + char) == ucs2(70, 1)
    assert sms_segments("a" * 70 + char) == ucs2(71, 2)


def test_an_emoji_outside_the_bmp_is_two_code_units() -> None:
    assert sms_segments("😀") == ucs2(2, 1)
    assert sms_segments("😀" * 35) == ucs2(70, 1)
    assert sms_segments("😀" * 36) == ucs2(72, 2)
    assert sms_segments("a" * 68 + "😀") == ucs2(70, 1)
    assert sms_segments("a" * 69 + "😀") == ucs2(71, 2)


def test_a_part_never_splits_an_escape_sequence() -> None:
    # 152 + € (2) + 152 = 306 septets, which would fit in 2 x 153, but the € cannot
    # straddle parts: part 1 holds 152, part 2 the € and 151, part 3 the last "a".
    assert sms_segments("a" * 152 + "€" + "a" * 152) == gsm(306, 3)
    # The same count with the € where it fits whole stays in 2 parts.
    assert sms_segments("a" * 151 + "€" + "a" * 153) == gsm(306, 2)


def test_a_part_never_splits_a_surrogate_pair() -> None:
    # 66 + emoji (2) + 66 = 134 units = 2 x 67, but the pair moves whole to part 2.
    assert sms_segments("ж" * 66 + "😀" + "ж" * 66) == ucs2(134, 3)
    assert sms_segments("ж" * 65 + "😀" + "ж" * 67) == ucs2(134, 2)


@pytest.mark.parametrize(
    "number", ["+12", "+14155550123", "+33612345678", "+442079460018", "+123456789012345"]
)
def test_e164_numbers_are_accepted_unchanged(number: str) -> None:
    assert validate_e164(number) == number


@pytest.mark.parametrize(
    ("number", "says"),
    [
        ("14155550123", "must start with +"),
        ("", "must start with +"),
        ("+1 415 555 0123", "only digits"),
        ("+1-415-555-0123", "only digits"),
        ("+(1)4155550123", "only digits"),
        ("+١٤١٥٥٥٥٠١٢٣", "only digits"),
        ("+14155550123\n", "only digits"),
        ("+", "only digits"),
        ("+04155550123", "never starts with 0"),
        ("+1", "too short"),
        ("+1234567890123456", "more than 15 digits"),
    ],
)
def test_anything_else_is_refused_saying_what_to_fix(number: str, says: str) -> None:
    with pytest.raises(InvalidPhoneNumberError) as raised:
        validate_e164(number)

    error = raised.value
    assert isinstance(error, ValidationError)
    assert error.type == "notifications/invalid-phone-number"
    assert error.type_uri().endswith("/problems/notifications/invalid-phone-number")
    assert error.status == 422
    assert says in error.detail
    assert "+14155550123" in error.detail  # the example of the right form
    assert error.extra == {"field": "to"}


def message(body: str, to: str = "+14155550123") -> SmsMessage:
    return SmsMessage(to=to, body=body, category="test.code", idempotency_key="k")


def test_check_sms_returns_the_segments_of_a_valid_message() -> None:
    assert check_sms(message("a" * 161)) == gsm(161, 2)


def test_check_sms_refuses_an_empty_body() -> None:
    with pytest.raises(InvalidSmsBodyError) as raised:
        check_sms(message(""))

    assert raised.value.type == "notifications/invalid-sms-body"
    assert raised.value.extra == {"field": "body"}


def test_the_default_maximum_is_ten_segments() -> None:
    assert check_sms(message("a" * 1530)).segments == 10

    with pytest.raises(SmsTooLongError) as raised:
        check_sms(message("a" * 1531))

    error = raised.value
    assert isinstance(error, InvalidSmsBodyError)
    assert error.type == "notifications/sms-too-long"
    assert "needs 11 segments and at most 10" in error.detail
    assert "shorten it to 1530 GSM-7 units or fewer (it has 1531)" in error.detail
    assert error.extra == {"field": "body", "segments": 11, "max_segments": 10}


def test_a_too_long_ucs2_body_says_why_it_is_ucs2() -> None:
    with pytest.raises(SmsTooLongError) as raised:
        check_sms(message("a" * 200 + "😀"), max_segments=2)

    assert "switch the whole message to UCS-2" in raised.value.detail
    assert "shorten it to 134 UCS-2 units" in raised.value.detail


def test_the_maximum_is_configurable() -> None:
    assert check_sms(message("a" * 160), max_segments=1).segments == 1
    with pytest.raises(SmsTooLongError):
        check_sms(message("a" * 161), max_segments=1)
    with pytest.raises(ValueError, match="at least 1"):
        check_sms(message("a"), max_segments=0)


def test_the_number_is_checked_before_the_body() -> None:
    with pytest.raises(InvalidPhoneNumberError):
        check_sms(message("", to="0612345678"))
