"""In-memory fake of ``InboxStore``: behaves like ``SqlInboxStore`` and passes the same
conformance suite; like the other fakes it ignores transactions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import msgspec

from core.notifications.inbox import InAppNotification


def _check_limit(limit: int) -> None:
    if limit < 1:
        raise ValueError("limit must be at least 1")


def _in_scope(n: InAppNotification, user_id: str, workspace_id: str | None) -> bool:
    if n.user_id != user_id:
        return False
    return workspace_id is None or n.workspace_id in (workspace_id, None)


class InMemoryInboxStore:
    def __init__(self) -> None:
        self.notifications: dict[str, InAppNotification] = {}

    async def add(self, notification: InAppNotification) -> None:
        if notification.id in self.notifications:
            raise ValueError(f"in-app notification {notification.id} exists already")
        self.notifications[notification.id] = notification

    async def get(self, user_id: str, notification_id: str) -> InAppNotification | None:
        found = self.notifications.get(notification_id)
        return found if found is not None and found.user_id == user_id else None

    async def page(
        self,
        user_id: str,
        *,
        workspace_id: str | None,
        unread_only: bool,
        before: str | None,
        limit: int,
    ) -> Sequence[InAppNotification]:
        _check_limit(limit)
        found = [
            n
            for n in self.notifications.values()
            if _in_scope(n, user_id, workspace_id)
            and not (unread_only and n.read_at is not None)
            and (before is None or n.id < before)
        ]
        return sorted(found, key=lambda n: n.id, reverse=True)[:limit]

    async def unread_count(self, user_id: str, *, workspace_id: str | None) -> int:
        return sum(
            1
            for n in self.notifications.values()
            if _in_scope(n, user_id, workspace_id) and n.read_at is None
        )

    def _mark(self, notifications: list[InAppNotification], at: datetime) -> int:
        changed = 0
        for n in notifications:
            if n.read_at is None:
                self.notifications[n.id] = msgspec.structs.replace(n, read_at=at)
                changed += 1
        return changed

    async def mark_read(self, user_id: str, notification_ids: Sequence[str], at: datetime) -> int:
        mine = [
            n
            for notification_id in dict.fromkeys(notification_ids)
            if (n := self.notifications.get(notification_id)) is not None and n.user_id == user_id
        ]
        return self._mark(mine, at)

    async def mark_all_read(self, user_id: str, *, workspace_id: str | None, at: datetime) -> int:
        scoped = [n for n in self.notifications.values() if _in_scope(n, user_id, workspace_id)]
        return self._mark(scoped, at)

    async def created_since(
        self, since: datetime, *, user_ids: Sequence[str], limit: int
    ) -> Sequence[InAppNotification]:
        _check_limit(limit)
        wanted = set(user_ids)
        found = [
            n for n in self.notifications.values() if n.user_id in wanted and n.created_at >= since
        ]
        return sorted(found, key=lambda n: (n.created_at, n.id))[:limit]
