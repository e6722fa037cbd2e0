"""A short in-process cache of who a session token stands for, for safe requests.

Authentication is one indexed read, but through the async drivers that read costs
twenty times the rest of a small request. So a ``GET``/``HEAD`` may reuse the principal
this process read for the same token during the last ``ttl`` seconds
(``NINEFOLD_SESSION_CACHE_SECONDS``, 0 turns it off):

- unsafe requests (``POST``, ``PATCH``, ``DELETE`` ...) always read the database, and
  forget the acting user's entries first, so sign-out, revocations, profile and 2FA
  changes are seen at once by this process;
- bans and password resets, which change another user, forget that user (or everyone);
- a cached session is still checked against its expiry on every use;
- another process sees a revocation at most ``ttl`` seconds late.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from core.identity import Principal


class PrincipalCache:
    def __init__(
        self,
        ttl_seconds: float,
        max_entries: int = 10_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._monotonic = monotonic
        self._entries: dict[str, tuple[float, Principal]] = {}

    @property
    def enabled(self) -> bool:
        return self._ttl > 0

    def get(self, token_hash: str) -> Principal | None:
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        stored_at, principal = entry
        if self._monotonic() - stored_at >= self._ttl:
            del self._entries[token_hash]
            return None
        return principal

    def put(self, token_hash: str, principal: Principal) -> None:
        if not self.enabled:
            return
        if len(self._entries) >= self._max:
            self._entries.clear()  # crude but bounded: entries live seconds anyway
        self._entries[token_hash] = (self._monotonic(), principal)

    def forget(self, token_hash: str) -> None:
        self._entries.pop(token_hash, None)

    def forget_user(self, user_id: str) -> None:
        for token_hash, (_, principal) in list(self._entries.items()):
            if principal.user.id == user_id:
                del self._entries[token_hash]

    def clear(self) -> None:
        self._entries.clear()
