"""The ``TotpGenerator`` port with pyotp.

pyotp's own ``verify``/``timecode`` answer a bool and read datetimes as local time; the
time step is computed here from the aware datetime, and each candidate step's code is
generated with ``generate_otp`` and compared in constant time.
"""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp

STEP_SECONDS = 30
DIGITS = 6
WINDOW = 1  # steps accepted either side of now: clocks drift, people type slowly


class PyotpTotpGenerator:
    def new_secret(self) -> str:
        return pyotp.random_base32()  # 32 base32 characters: 160 bits

    def provisioning_uri(self, secret: str, account_name: str, issuer: str) -> str:
        return pyotp.TOTP(secret).provisioning_uri(name=account_name, issuer_name=issuer)

    def verify(self, secret: str, code: str, at: datetime) -> int | None:
        code = "".join(code.split())
        if len(code) != DIGITS or not code.isascii() or not code.isdigit():
            return None
        totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
        now_step = int(at.timestamp()) // STEP_SECONDS
        for step in range(now_step - WINDOW, now_step + WINDOW + 1):
            if step >= 0 and hmac.compare_digest(totp.generate_otp(step), code):
                return step
        return None
