"""In-app notifications: a person's inbox, per user and (optionally) workspace."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import msgspec

from core.kernel import Clock
from core.notifications.errors import InAppNotificationNotFoundError


class InAppNotification(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    user_id: str
    workspace_id: str | None = None
    notification_type: str
    category: str
    title: str
    body: str
    link: str | None = None
    created_at: datetime
    read_at: datetime | None = None


class InboxStore(Protocol):
    """Where in-app notifications are kept, in the caller's transaction. Ids grow with
    time, so "newest first" is "highest id first"."""

    async def add(self, notification: InAppNotification) -> None: ...

    async def get(self, user_id: str, notification_id: str) -> InAppNotification | None: ...

    async def page(
        self,
        user_id: str,
        *,
        workspace_id: str | None,
        unread_only: bool,
        before: str | None,
        limit: int,
    ) -> Sequence[InAppNotification]:
        """Newest first; only those with an id lower than ``before`` when given; with
        ``workspace_id``, that workspace's and those of no workspace."""
        ...

    async def unread_count(self, user_id: str, *, workspace_id: str | None) -> int: ...

    async def mark_read(self, user_id: str, notification_ids: Sequence[str], at: datetime) -> int:
        """Mark the user's unread notifications among ``notification_ids`` read; how
        many changed."""
        ...

    async def mark_all_read(
        self, user_id: str, *, workspace_id: str | None, at: datetime
    ) -> int: ...

    async def created_since(
        self, since: datetime, *, user_ids: Sequence[str], limit: int
    ) -> Sequence[InAppNotification]:
        """Notifications of ``user_ids`` created at or after ``since``, oldest first
        (for the live stream)."""
        ...


class InboxPage(msgspec.Struct, frozen=True, kw_only=True):
    notifications: list[InAppNotification]
    next_cursor: str | None  # None on the last page
    unread_count: int


class InboxService:
    """A person's inbox: pages of notifications, newest first, and marking them read."""

    def __init__(self, *, store: InboxStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def page(
        self,
        user_id: str,
        *,
        workspace_id: str | None = None,
        unread_only: bool = False,
        cursor: str | None = None,
        limit: int = 20,
    ) -> InboxPage:
        found = list(
            await self._store.page(
                user_id,
                workspace_id=workspace_id,
                unread_only=unread_only,
                before=cursor,
                limit=limit + 1,
            )
        )
        more = len(found) > limit
        found = found[:limit]
        return InboxPage(
            notifications=found,
            next_cursor=found[-1].id if more else None,
            unread_count=await self._store.unread_count(user_id, workspace_id=workspace_id),
        )

    async def mark_read(self, user_id: str, notification_id: str) -> InAppNotification:
        """Mark one of the person's notifications read (again is fine); someone else's,
        or one that does not exist, is not found."""
        found = await self._store.get(user_id, notification_id)
        if found is None:
            raise InAppNotificationNotFoundError(notification_id=notification_id)
        if found.read_at is not None:
            return found
        now = self._clock.now()
        await self._store.mark_read(user_id, [notification_id], now)
        return msgspec.structs.replace(found, read_at=now)

    async def mark_all_read(self, user_id: str, *, workspace_id: str | None = None) -> int:
        return await self._store.mark_all_read(
            user_id, workspace_id=workspace_id, at=self._clock.now()
        )
