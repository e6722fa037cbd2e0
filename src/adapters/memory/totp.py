"""A deterministic ``TotpGenerator`` for tests: RFC 6238 written out with the standard
library, so tests compute the code of any moment with ``totp_code``; its secrets come
from a counter, so runs repeat."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from datetime import datetime
from urllib.parse import quote, urlencode

STEP_SECONDS = 30
DIGITS = 6


def _step(at: datetime) -> int:
    return int(at.timestamp()) // STEP_SECONDS


def code_for_step(secret: str, step: int) -> str:
    """HOTP (RFC 4226) of the step: HMAC-SHA1, dynamic truncation, six digits."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**DIGITS).zfill(DIGITS)


def totp_code(secret: str, at: datetime) -> str:
    """The code an authenticator app shows at ``at``."""
    return code_for_step(secret, _step(at))


class FakeTotpGenerator:
    def __init__(self) -> None:
        self._issued = 0

    def new_secret(self) -> str:
        self._issued += 1
        seed = f"ninefold-fake-{self._issued:06d}".encode()  # 20 bytes: 160 bits
        return base64.b32encode(seed).decode().rstrip("=")

    def provisioning_uri(self, secret: str, account_name: str, issuer: str) -> str:
        label = f"{quote(issuer)}:{quote(account_name)}"
        return f"otpauth://totp/{label}?" + urlencode({"secret": secret, "issuer": issuer})

    def verify(self, secret: str, code: str, at: datetime) -> int | None:
        code = "".join(code.split())
        if len(code) != DIGITS or not code.isascii() or not code.isdigit():
            return None
        now = _step(at)
        for step in (now - 1, now, now + 1):
            if step >= 0 and hmac.compare_digest(code_for_step(secret, step), code):
                return step
        return None
