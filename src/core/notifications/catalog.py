"""Notification types, declared in code by the systems that send them, and how a
recipient's preferences decide which channels a notification goes out on.

A type names its category (what a person opts in or out of), the channels it may use,
the channels it uses unless the person said otherwise, and whether the person may opt
out at all: security and legal messages (a password reset, a verification link, a
payment failure) always go out on their default channels, whatever the preferences.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.notifications.errors import (
    DuplicateNotificationTypeError,
    UnknownNotificationTypeError,
)

_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_CATEGORY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class Channel(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"
    IN_APP = "in_app"


@dataclass(frozen=True, slots=True)
class NotificationType:
    """A kind of notification, e.g. ``identity.verify_email``.

    ``channels`` are the channels it may use at all; ``default_channels`` (a subset)
    those it uses for a person who set no preference for its category. With
    ``opt_out=False`` preferences are not consulted: it goes out on its default
    channels to everyone (security and legal messages).

    ``templates`` is the package whose ``templates/<name>/`` folder holds the type's
    templates (docs/systems/notifications.md, "Templates"); ``sample`` is template data
    for previews and for the test that renders every template of every type.
    """

    name: str
    category: str
    channels: frozenset[Channel]
    default_channels: frozenset[Channel]
    opt_out: bool = True
    description: str = ""
    templates: str = ""
    sample: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"notification type names look like 'system.what': {self.name!r}")
        if not _CATEGORY.match(self.category):
            raise ValueError(f"{self.name}: categories are lowercase words: {self.category!r}")
        if not self.channels:
            raise ValueError(f"{self.name}: a notification type needs at least one channel")
        if not self.default_channels <= self.channels:
            raise ValueError(f"{self.name}: default channels must be among its channels")
        if not self.templates:
            raise ValueError(f"{self.name}: name the package that holds its templates")
        if not self.opt_out and not self.default_channels:
            raise ValueError(f"{self.name}: a type nobody may opt out of needs default channels")


# A person's choices: (category, channel) -> on or off. Missing pairs follow the type.
Preferences = Mapping[tuple[str, Channel], bool]


def channels_for(
    notification: NotificationType,
    preferences: Preferences,
    reachable: Iterable[Channel],
) -> tuple[Channel, ...]:
    """The channels ``notification`` goes out on for a person with ``preferences``,
    among the channels that can reach them (``reachable``: no phone number, no SMS),
    in a stable order (email, sms, in-app)."""
    reachable = frozenset(reachable)
    if not notification.opt_out:
        chosen = notification.default_channels
    else:
        chosen = frozenset(
            channel
            for channel in notification.channels
            if preferences.get(
                (notification.category, channel), channel in notification.default_channels
            )
        )
    return tuple(channel for channel in Channel if channel in chosen and channel in reachable)


class NotificationCatalog:
    """Every notification type of the application, by name. Systems declare their types
    as module constants; the composition root registers them here once."""

    def __init__(self, types: Iterable[NotificationType] = ()) -> None:
        self._types: dict[str, NotificationType] = {}
        for notification in types:
            self.register(notification)

    def register(self, notification: NotificationType) -> None:
        known = self._types.get(notification.name)
        if known is not None and known != notification:
            raise DuplicateNotificationTypeError(
                f"two notification types are named {notification.name!r}"
            )
        self._types[notification.name] = notification

    def get(self, name: str) -> NotificationType:
        try:
            return self._types[name]
        except KeyError:
            raise UnknownNotificationTypeError(f"no notification type is named {name!r}") from None

    def all(self) -> tuple[NotificationType, ...]:
        return tuple(sorted(self._types.values(), key=lambda t: t.name))

    def categories(self) -> dict[str, frozenset[Channel]]:
        """Each category a person may set preferences for, with the channels its types
        may use; categories whose every type is mandatory are left out."""
        found: dict[str, set[Channel]] = {}
        for notification in self._types.values():
            if notification.opt_out:
                found.setdefault(notification.category, set()).update(notification.channels)
        return {category: frozenset(channels) for category, channels in sorted(found.items())}

    def may_set(self, category: str, channel: Channel) -> bool:
        """Whether a person may turn ``channel`` on or off for ``category``."""
        return channel in self.categories().get(category, frozenset())
