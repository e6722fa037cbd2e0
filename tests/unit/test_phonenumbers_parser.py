"""``PhonenumbersParser``: what a person typed, to E.164, or a clear refusal."""

from __future__ import annotations

import pytest

from adapters.phonenumbers.parser import PhonenumbersParser
from core.notifications import InvalidPhoneNumberError, PhoneNumberParser


@pytest.fixture
def parser() -> PhoneNumberParser:
    return PhonenumbersParser()


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("06 12 34 56 78", "FR", "+33612345678"),
        ("06.12.34.56.78", "fr", "+33612345678"),
        ("(415) 555-0132", "US", "+14155550132"),
        ("020 7946 0018", "GB", "+442079460018"),
        ("+44 20 7946 0018", None, "+442079460018"),
        ("+33 6 12 34 56 78", "US", "+33612345678"),  # the + wins over the region
        ("00 33 6 12 34 56 78", "FR", "+33612345678"),  # international prefix
        ("  +14155550132  ", None, "+14155550132"),
        ("+14155550132", None, "+14155550132"),
    ],
)
def test_national_and_international_formats_become_e164(
    parser: PhoneNumberParser, raw: str, region: str | None, expected: str
) -> None:
    assert parser.normalize(raw, region) == expected


@pytest.mark.parametrize(
    ("raw", "region", "says"),
    [
        ("0612345678", None, "no country code"),
        ("+99912345", None, "country code is not known"),
        ("call me", "FR", "not a phone number"),
        ("+1 555", None, "not a valid phone number"),
        ("+1 415 555 0132 1234567", None, "not a valid phone number"),
        ("06 12 34", "FR", "not a valid phone number"),
        ("", "FR", "empty"),
        ("   ", "FR", "empty"),
        ("1" * 65, "FR", "longer than 64"),
    ],
)
def test_what_is_no_valid_number_is_refused_saying_why(
    parser: PhoneNumberParser, raw: str, region: str | None, says: str
) -> None:
    with pytest.raises(InvalidPhoneNumberError) as raised:
        parser.normalize(raw, region)

    assert raised.value.type == "notifications/invalid-phone-number"
    assert says in raised.value.detail
    assert raised.value.extra == {"field": "to"}


def test_an_unknown_default_region_is_a_programming_error(parser: PhoneNumberParser) -> None:
    with pytest.raises(ValueError, match="not an ISO 3166 region"):
        parser.normalize("0612345678", "XX")
