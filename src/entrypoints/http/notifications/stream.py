"""The live stream of in-app notifications: one follower per process.

A notification may be stored by any process (a request here, a job in a worker), so
the stream cannot rely on an in-process signal. ``InboxFollower`` polls the inbox table
for notifications of the users who have a stream open in this process, at most once
per ``poll_seconds`` whatever the number of open streams, and only while one is open.
Each poll looks ``LOOKBACK`` back past the previous one and skips ids it has seen, so a
notification whose transaction committed a little after its ``created_at`` is not
missed. A push mechanism (PostgreSQL LISTEN/NOTIFY, Redis pub/sub) can replace the
poll without changing the routes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from adapters.sql.notifications.inbox import SqlInboxStore
from adapters.sql.uow import SqlUnitOfWork
from core.kernel import Clock
from core.notifications import InAppNotification

logger = logging.getLogger("ninefold.notifications")

LOOKBACK = timedelta(seconds=10)
QUEUE_SIZE = 100  # a subscriber this far behind loses the oldest; it refetches the list
POLL_BATCH = 500


class Subscription:
    """One open stream. ``after_id`` is the newest notification the person had when it
    opened (they got its unread count): only newer ones are pushed."""

    def __init__(self, user_id: str, after_id: str) -> None:
        self.user_id = user_id
        self.after_id = after_id
        self.queue: asyncio.Queue[InAppNotification] = asyncio.Queue(QUEUE_SIZE)

    def put(self, notification: InAppNotification) -> None:
        if notification.id <= self.after_id:
            return
        if self.queue.full():
            self.queue.get_nowait()
        self.queue.put_nowait(notification)

    async def next(self, wait_seconds: float) -> InAppNotification | None:
        """The next new notification, or ``None`` after ``wait_seconds``."""
        try:
            return await asyncio.wait_for(self.queue.get(), wait_seconds)
        except TimeoutError:
            return None


class InboxFollower:
    def __init__(
        self, *, open_uow: Callable[[], SqlUnitOfWork], clock: Clock, poll_seconds: float
    ) -> None:
        self._open_uow = open_uow
        self._clock = clock
        self._poll_seconds = poll_seconds
        self._subscriptions: dict[str, set[Subscription]] = {}
        self._seen: dict[str, datetime] = {}
        self._task: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def subscribe(self, user_id: str, after_id: str = "") -> Iterator[Subscription]:
        """Receive ``user_id``'s notifications newer than ``after_id`` (ids grow with
        time) as they are stored, while inside."""
        subscription = Subscription(user_id, after_id)
        self._subscriptions.setdefault(user_id, set()).add(subscription)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._follow(), name="inbox-follower")
        try:
            yield subscription
        finally:
            followers = self._subscriptions.get(user_id, set())
            followers.discard(subscription)
            if not followers:
                self._subscriptions.pop(user_id, None)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _follow(self) -> None:
        since = self._clock.now()
        while self._subscriptions:
            started = self._clock.now()
            try:
                await self._poll(since - LOOKBACK)
                since = started
            except Exception:  # a database hiccup must not end every open stream
                logger.exception("polling the inbox for live notifications failed")
            await asyncio.sleep(self._poll_seconds)

    async def _poll(self, since: datetime) -> None:
        users = list(self._subscriptions)
        async with self._open_uow() as uow:
            found = await SqlInboxStore(uow.session).created_since(
                since, user_ids=users, limit=POLL_BATCH
            )
        for notification in found:
            if notification.id in self._seen:
                continue
            self._seen[notification.id] = notification.created_at
            for subscription in self._subscriptions.get(notification.user_id, ()):
                subscription.put(notification)
        horizon = since - LOOKBACK
        self._seen = {key: at for key, at in self._seen.items() if at >= horizon}
