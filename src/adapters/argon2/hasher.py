"""``PasswordHasher`` on argon2id, parameters per current OWASP guidance."""

from __future__ import annotations

import argon2
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1 at minimum.
OWASP_MEMORY_KIB = 19 * 1024
OWASP_TIME_COST = 2


class Argon2PasswordHasher:
    def __init__(
        self, memory_cost: int = OWASP_MEMORY_KIB, time_cost: int = OWASP_TIME_COST
    ) -> None:
        self._hasher = argon2.PasswordHasher(
            memory_cost=memory_cost, time_cost=time_cost, parallelism=1
        )

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)
