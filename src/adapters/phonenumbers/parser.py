"""``PhoneNumberParser`` with phonenumbers: what a person typed, to E.164.

Core only checks the E.164 shape; knowing that ``06 12 34 56 78`` in France is
``+33612345678``, or that ``+1 555 0100`` has too few digits, takes the numbering plan
data of libphonenumber, which lives here and nowhere else.
"""

from __future__ import annotations

import phonenumbers

from core.notifications import InvalidPhoneNumberError, validate_e164

# Longer input is no phone number; phonenumbers refuses over 250 characters anyway.
RAW_MAX_LENGTH = 64


class PhonenumbersParser:
    """Normalises to E.164 and accepts only numbers that are valid in their region's
    numbering plan (``phonenumbers.is_valid_number``), not merely of a possible
    length."""

    def normalize(self, raw: str, default_region: str | None = None) -> str:
        text = raw.strip()
        if not text:
            raise InvalidPhoneNumberError("The phone number is empty: enter one.", field="to")
        if len(text) > RAW_MAX_LENGTH:
            raise InvalidPhoneNumberError(
                f"The phone number is longer than {RAW_MAX_LENGTH} characters.", field="to"
            )
        region = default_region.upper() if default_region else None
        if region is not None and region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{default_region!r} is not an ISO 3166 region phonenumbers knows")
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException as error:
            raise InvalidPhoneNumberError(_advice(error, text), field="to") from error
        if not phonenumbers.is_valid_number(number):
            raise InvalidPhoneNumberError(
                "This is not a valid phone number: check the digits and the country code.",
                field="to",
            )
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        return validate_e164(e164)


def _advice(error: phonenumbers.NumberParseException, text: str) -> str:
    kind = error.error_type
    if kind == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
        if not text.startswith("+"):
            return (
                "The phone number has no country code: start it with + and the country"
                " code, like +14155550123."
            )
        return (
            "The country code is not known: start the number with + and a valid country"
            " code, like +14155550123."
        )
    if kind == phonenumbers.NumberParseException.NOT_A_NUMBER:
        return "This is not a phone number: use digits, with spaces or dashes if you like."
    if kind in (
        phonenumbers.NumberParseException.TOO_SHORT_NSN,
        phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD,
    ):
        return "The phone number is too short: check that no digit is missing."
    return "The phone number is too long: check that no digit was added."
