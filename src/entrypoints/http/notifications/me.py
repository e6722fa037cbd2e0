"""The signed-in person's notifications: the in-app inbox (with its live stream) and
notification preferences."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, get, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, Parameter
from litestar.response import ServerSentEvent
from litestar.response.sse import ServerSentEventMessage

from adapters.sql.notifications.inbox import SqlInboxStore
from adapters.sql.uow import SqlUnitOfWork
from core.identity import Principal
from core.notifications import (
    CategoryPreferences,
    Channel,
    InAppNotification,
    InboxService,
    PreferenceChoice,
    PreferenceService,
)
from entrypoints.http.auth import provide_principal
from entrypoints.http.dependencies import container_of
from entrypoints.http.notifications.stream import InboxFollower

Uow = NamedDependency[SqlUnitOfWork]
CurrentPrincipal = NamedDependency[Principal]

PAGE_DEFAULT = 20
PAGE_MAX = 100
CURSOR_MAX_LENGTH = 100
CHOICES_MAX = 100
HEARTBEAT_SECONDS = 15.0
RECONNECT_MILLISECONDS = 3000


class NotificationOut(msgspec.Struct):
    id: str
    type: str
    category: str
    title: str
    body: str
    link: str | None
    workspace_id: str | None
    created_at: datetime
    read_at: datetime | None

    @classmethod
    def of(cls, item: InAppNotification) -> NotificationOut:
        return cls(
            id=item.id,
            type=item.notification_type,
            category=item.category,
            title=item.title,
            body=item.body,
            link=item.link,
            workspace_id=item.workspace_id,
            created_at=item.created_at,
            read_at=item.read_at,
        )


class NotificationsPage(msgspec.Struct):
    notifications: list[NotificationOut]
    next_cursor: str | None
    unread_count: int


class MarkedRead(msgspec.Struct):
    marked: int
    unread_count: int


class PreferenceIn(msgspec.Struct, forbid_unknown_fields=True):
    category: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    channel: Channel
    # true or false: the person's choice; null: forget it, so the default applies again
    enabled: bool | None


class PreferencesIn(msgspec.Struct, forbid_unknown_fields=True):
    preferences: Annotated[list[PreferenceIn], msgspec.Meta(min_length=1, max_length=CHOICES_MAX)]


class CategoryPreferencesOut(msgspec.Struct):
    category: str
    channels: dict[str, bool]
    chosen: dict[str, bool]  # the channels set by the person; the others follow defaults

    @classmethod
    def of(cls, found: CategoryPreferences) -> CategoryPreferencesOut:
        return cls(
            category=found.category,
            channels={c.value: on for c, on in found.channels.items()},
            chosen={c.value: on for c, on in found.chosen.items()},
        )


class PreferencesOut(msgspec.Struct):
    preferences: list[CategoryPreferencesOut]


def _inbox(state: State, uow: SqlUnitOfWork) -> InboxService:
    return InboxService(store=SqlInboxStore(uow.session), clock=container_of(state).kernel.clock())


def _preferences(state: State, uow: SqlUnitOfWork) -> PreferenceService:
    service: PreferenceService = container_of(state).notifications.preferences(session=uow.session)
    return service


async def _newest(state: State, user_id: str) -> tuple[int, str]:
    """The person's unread count and their newest notification's id ("" for none)."""
    async with container_of(state).unit_of_work() as uow:
        page = await _inbox(state, uow).page(user_id, limit=1)
    return page.unread_count, page.notifications[0].id if page.notifications else ""


WorkspaceFilter = Annotated[
    str | None,
    Parameter(
        max_length=40,
        description="Only this workspace's notifications and those of no workspace",
    ),
]


class MyNotificationsController(Controller):
    path = "/api/v1/me"
    tags = ["me", "notifications"]
    dependencies = {"principal": Provide(provide_principal)}

    @get("/notifications", summary="My in-app notifications, newest first")
    async def list_notifications(
        self,
        *,
        state: State,
        principal: CurrentPrincipal,
        uow: Uow,
        workspace_id: WorkspaceFilter = None,
        unread: Annotated[bool, Parameter(description="Only unread ones")] = False,
        cursor: Annotated[
            str | None,
            Parameter(max_length=CURSOR_MAX_LENGTH, description="next_cursor of the page before"),
        ] = None,
        limit: Annotated[int, Parameter(ge=1, le=PAGE_MAX)] = PAGE_DEFAULT,
    ) -> NotificationsPage:
        page = await _inbox(state, uow).page(
            principal.user.id,
            workspace_id=workspace_id,
            unread_only=unread,
            cursor=cursor,
            limit=limit,
        )
        return NotificationsPage(
            [NotificationOut.of(n) for n in page.notifications],
            page.next_cursor,
            page.unread_count,
        )

    @post(
        "/notifications/{notification_id:str}/read",
        summary="Mark one of my notifications read",
        status_code=200,
    )
    async def mark_read(
        self, state: State, principal: CurrentPrincipal, uow: Uow, notification_id: FromPath[str]
    ) -> NotificationOut:
        found = await _inbox(state, uow).mark_read(principal.user.id, notification_id)
        return NotificationOut.of(found)

    @post("/notifications/read-all", summary="Mark all my notifications read", status_code=200)
    async def mark_all_read(
        self,
        state: State,
        principal: CurrentPrincipal,
        uow: Uow,
        workspace_id: WorkspaceFilter = None,
    ) -> MarkedRead:
        inbox = _inbox(state, uow)
        marked = await inbox.mark_all_read(principal.user.id, workspace_id=workspace_id)
        page = await inbox.page(principal.user.id, workspace_id=workspace_id, limit=1)
        return MarkedRead(marked=marked, unread_count=page.unread_count)

    @get(
        "/notifications/stream",
        summary="New in-app notifications as they arrive (Server-Sent Events)",
        description=(
            "First an `unread` event with the unread count, then a `notification` event "
            "(the notification as JSON, its id as the event id) for each new one, and a "
            "comment every 15 s to keep the connection open. The stream ends after "
            "NINEFOLD_NOTIFICATIONS_STREAM_SECONDS; browsers reconnect by themselves."
        ),
        media_type="text/event-stream",
    )
    async def stream(self, state: State, principal: CurrentPrincipal) -> ServerSentEvent:
        # The stream is the signed-in user's own, never one named by the request.
        user_id = principal.user.id
        follower: InboxFollower = state.inbox_follower
        settings = container_of(state).settings()
        unread, newest = await _newest(state, user_id)

        async def events() -> AsyncGenerator[ServerSentEventMessage, Any]:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + settings.notifications_stream_seconds
            with follower.subscribe(user_id, after_id=newest) as subscription:
                yield ServerSentEventMessage(event="unread", data=str(unread))
                while (remaining := deadline - loop.time()) > 0:
                    found = await subscription.next(min(HEARTBEAT_SECONDS, remaining))
                    if found is None:
                        yield ServerSentEventMessage(comment="keep-alive")
                        continue
                    data = msgspec.json.encode(NotificationOut.of(found)).decode()
                    yield ServerSentEventMessage(event="notification", id=found.id, data=data)

        return ServerSentEvent(events(), retry_duration=RECONNECT_MILLISECONDS)

    @get("/notification-preferences", summary="My notification preferences")
    async def read_preferences(
        self, state: State, principal: CurrentPrincipal, uow: Uow
    ) -> PreferencesOut:
        found = await _preferences(state, uow).overview(principal.user.id)
        return PreferencesOut([CategoryPreferencesOut.of(c) for c in found])

    @put(
        "/notification-preferences",
        summary="Turn categories of notifications on or off per channel",
        description=(
            "Each entry sets one category on one channel; `enabled: null` forgets the "
            "choice so the default applies again. All are checked before any is saved. "
            "Security and legal messages are not choices."
        ),
    )
    async def update_preferences(
        self, state: State, principal: CurrentPrincipal, uow: Uow, data: JSONBody[PreferencesIn]
    ) -> PreferencesOut:
        service = _preferences(state, uow)
        user_id = principal.user.id
        chosen = [
            PreferenceChoice(p.category, p.channel, p.enabled)
            for p in data.preferences
            if p.enabled is not None
        ]
        forget = [(p.category, p.channel) for p in data.preferences if p.enabled is None]
        await service.update(user_id, chosen, forget=forget)
        found = await service.overview(user_id)
        return PreferencesOut([CategoryPreferencesOut.of(c) for c in found])
