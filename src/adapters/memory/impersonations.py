"""An in-memory ``ImpersonationStore`` for unit tests and forks' tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import msgspec

from core.safety.impersonation import PAGE_DEFAULT, EndReason, Impersonation


class InMemoryImpersonationStore:
    def __init__(self) -> None:
        self.rows: dict[str, tuple[Impersonation, str]] = {}

    async def add(self, impersonation: Impersonation, token_hash: str) -> None:
        self.rows[impersonation.id] = (_copy(impersonation), token_hash)

    async def get(self, impersonation_id: str) -> Impersonation | None:
        row = self.rows.get(impersonation_id)
        return _copy(row[0]) if row else None

    async def by_token_hash(self, token_hash: str) -> Impersonation | None:
        return next((_copy(i) for i, h in self.rows.values() if h == token_hash), None)

    async def open_of_staff(self, staff_id: str) -> Sequence[Impersonation]:
        return [i for i in self._all() if i.staff_id == staff_id and i.ended_at is None][::-1]

    async def latest_of_staff_session(self, staff_session_id: str) -> Impersonation | None:
        return next((i for i in self._all() if i.staff_session_id == staff_session_id), None)

    async def overdue(self, now: datetime, *, limit: int = 100) -> Sequence[Impersonation]:
        found = [i for i in self._all() if i.is_overdue(now)]
        return sorted(found, key=lambda i: (i.expires_at, i.id))[:limit]

    async def page(
        self,
        *,
        active_at: datetime | None = None,
        staff_id: str | None = None,
        user_id: str | None = None,
        before: str | None = None,
        limit: int = PAGE_DEFAULT,
    ) -> Sequence[Impersonation]:
        found = [
            i
            for i in self._all()
            if (active_at is None or i.is_active(active_at))
            and (staff_id is None or i.staff_id == staff_id)
            and (user_id is None or i.user_id == user_id)
            and (before is None or i.id < before)
        ]
        return found[:limit]

    async def end(
        self, impersonation_id: str, *, at: datetime, reason: EndReason, by: str | None
    ) -> bool:
        row = self.rows.get(impersonation_id)
        if row is None or row[0].ended_at is not None:
            return False
        ended = msgspec.structs.replace(row[0], ended_at=at, ended_reason=reason, ended_by=by)
        self.rows[impersonation_id] = (ended, row[1])
        return True

    def _all(self) -> list[Impersonation]:
        """Newest first, as copies."""
        return [
            _copy(i) for i, _ in sorted(self.rows.values(), key=lambda r: r[0].id, reverse=True)
        ]


def _copy(impersonation: Impersonation) -> Impersonation:
    return msgspec.structs.replace(impersonation)
