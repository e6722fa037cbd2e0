"""Public ids: opaque, time-ordered, prefixed by kind (``usr_…``, ``ws_…``).

The body is a UUIDv7-like 128-bit value (48-bit millisecond timestamp, then random bits)
in Crockford base32, so ids sort by creation time as plain strings and leak nothing but
a coarse creation time.
"""

from __future__ import annotations

import os
import re
import threading
from datetime import datetime

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_BODY_LENGTH = 26
_PREFIX = re.compile(r"^[a-z][a-z0-9]{1,11}$")
_ID = re.compile(r"^(?P<prefix>[a-z][a-z0-9]{1,11})_(?P<body>[0-9abcdefghjkmnpqrstvwxyz]{26})$")


def _encode(value: int) -> str:
    chars = []
    for _ in range(_BODY_LENGTH):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


class IdGenerator:
    """Makes prefixed, time-ordered ids; monotonic within one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = -1
        self._last_random = 0

    def new(self, prefix: str, at: datetime) -> str:
        if not _PREFIX.match(prefix):
            raise ValueError(f"id prefix must be 2-12 lowercase letters or digits: {prefix!r}")
        millis = int(at.timestamp() * 1000)
        with self._lock:
            if millis <= self._last_ms:
                # Same or earlier millisecond (or a clock step back): keep order by
                # incrementing the random part of the previous id.
                millis = self._last_ms
                rand = self._last_random + 1
            else:
                rand = int.from_bytes(os.urandom(10), "big")
            self._last_ms, self._last_random = millis, rand
        return f"{prefix}_{_encode((millis << 80) | (rand & ((1 << 80) - 1)))}"


def is_valid_id(value: str, prefix: str | None = None) -> bool:
    """Whether ``value`` is a well-formed id, optionally of the given kind."""
    match = _ID.match(value)
    if match is None:
        return False
    return prefix is None or match.group("prefix") == prefix
