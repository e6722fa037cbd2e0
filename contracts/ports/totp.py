"""Conformance of a ``TotpGenerator`` (RFC 6238: SHA-1, 6 digits, 30-second steps).

Provide a fixture ``totp``: the adapter under test.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from core.identity import TotpGenerator

# RFC 6238, appendix B: the ASCII secret "12345678901234567890"; its 8-digit codes end
# in these six digits.
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
RFC_VECTORS = [
    (59, "287082"),
    (1111111109, "081804"),
    (1234567890, "005924"),
    (2000000000, "279037"),
]


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


class TotpGeneratorContract:
    def test_secrets_are_base32_of_at_least_160_bits_and_differ(self, totp: TotpGenerator) -> None:
        first, second = totp.new_secret(), totp.new_secret()

        assert first != second
        assert len(first) >= 32
        assert base64.b32decode(first + "=" * (-len(first) % 8))

    def test_the_provisioning_uri_names_the_account_the_issuer_and_the_secret(
        self, totp: TotpGenerator
    ) -> None:
        secret = totp.new_secret()

        uri = totp.provisioning_uri(secret, account_name="ada@example.com", issuer="Ninefold")

        assert uri.startswith("otpauth://totp/Ninefold:ada%40example.com?")
        assert f"secret={secret}" in uri
        assert "issuer=Ninefold" in uri

    def test_the_rfc_6238_codes_verify_to_their_time_step(self, totp: TotpGenerator) -> None:
        for seconds, code in RFC_VECTORS:
            assert totp.verify(RFC_SECRET, code, at(seconds)) == seconds // 30

    def test_one_step_either_side_is_accepted_and_no_more(self, totp: TotpGenerator) -> None:
        seconds, code = RFC_VECTORS[1]
        moment = at(seconds)
        step = seconds // 30

        assert totp.verify(RFC_SECRET, code, moment + timedelta(seconds=30)) == step
        assert totp.verify(RFC_SECRET, code, moment - timedelta(seconds=30)) == step
        assert totp.verify(RFC_SECRET, code, moment + timedelta(seconds=61)) is None
        assert totp.verify(RFC_SECRET, code, moment - timedelta(seconds=61)) is None

    def test_wrong_and_malformed_codes_verify_to_nothing(self, totp: TotpGenerator) -> None:
        moment = at(RFC_VECTORS[1][0])

        full_width = "\uff10\uff18\uff11\uff18\uff10\uff14"  # the right code, other digits
        for code in ("000000", "", "08180", "0818044", "08a804", full_width):
            assert totp.verify(RFC_SECRET, code, moment) is None

    def test_spaces_in_a_code_are_ignored(self, totp: TotpGenerator) -> None:
        assert totp.verify(RFC_SECRET, "081 804", at(RFC_VECTORS[1][0])) is not None
