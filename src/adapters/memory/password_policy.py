"""``PasswordPolicy`` as a short list and a containment check: predictable for tests.

Rejects a listed password (case-insensitive) and one that contains any of the user's
inputs (4+ letters and digits; an email also by its local part), compared on letters and
digits only, so "adalovelace1" contains "ada.lovelace". Nothing else: no scoring. The
zxcvbn adapter is the real thing; both pass ``contracts.ports.password_policy``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

COMMON_PASSWORD = "This is one of the most common passwords."
BUILT_FROM_DETAILS = "Don't build your password from your name or email address."

COMMON_PASSWORDS = (
    "123456",
    "password",
    "12345678",
    "qwerty",
    "123456789",
    "12345",
    "1234567890",
    "qwertyuiop",
    "111111",
    "abc123",
    "letmein",
    "iloveyou",
    "admin",
    "welcome",
    "monkey",
    "dragon",
    "password1",
)
MIN_INPUT_LENGTH = 4

_NON_WORD = re.compile(r"[\W_]+")


def _letters_and_digits(text: str) -> str:
    return "".join(_NON_WORD.split(text.lower()))


class ListPasswordPolicy:
    def __init__(self, common: Iterable[str] = COMMON_PASSWORDS) -> None:
        self._common = frozenset(password.lower() for password in common)

    def problems(self, password: str, user_inputs: Sequence[str] = ()) -> list[str]:
        if password.lower() in self._common:
            return [COMMON_PASSWORD]
        candidate = _letters_and_digits(password)
        details = [*user_inputs, *(i.rpartition("@")[0] for i in user_inputs if "@" in i)]
        for detail in map(_letters_and_digits, details):
            if len(detail) >= MIN_INPUT_LENGTH and detail in candidate:
                return [BUILT_FROM_DETAILS]
        return []
