"""The TOTP adapters against the port's conformance suite: pyotp and the test fake."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.memory.totp import FakeTotpGenerator, totp_code
from adapters.pyotp.totp import PyotpTotpGenerator
from contracts.ports.totp import TotpGeneratorContract


class TestPyotpTotpGenerator(TotpGeneratorContract):
    @pytest.fixture
    def totp(self) -> PyotpTotpGenerator:
        return PyotpTotpGenerator()


class TestFakeTotpGenerator(TotpGeneratorContract):
    @pytest.fixture
    def totp(self) -> FakeTotpGenerator:
        return FakeTotpGenerator()


def test_the_fake_computes_the_codes_pyotp_accepts() -> None:
    real = PyotpTotpGenerator()
    secret = real.new_secret()
    moment = datetime(2030, 1, 1, 12, 0, 7, tzinfo=UTC)

    assert real.verify(secret, totp_code(secret, moment), moment) == int(moment.timestamp()) // 30
