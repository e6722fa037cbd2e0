"""A person's notification preferences: per category and channel, on or off.

Only what a person chose is stored; everything else follows the notification types'
defaults. Categories whose every type is mandatory (security, legal) are not choices
and cannot be set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import msgspec

from core.notifications.catalog import Channel, NotificationCatalog
from core.notifications.errors import InvalidPreferenceError


class PreferenceChoice(msgspec.Struct, frozen=True):
    category: str
    channel: Channel
    enabled: bool


class CategoryPreferences(msgspec.Struct, frozen=True, kw_only=True):
    """A category as a person sees it: each channel on or off, and whether that is
    their own choice or the default."""

    category: str
    channels: dict[Channel, bool]
    chosen: dict[Channel, bool]  # only the channels the person set themselves


class PreferenceStore(Protocol):
    """Where people's choices are kept."""

    async def choices(self, user_id: str) -> Mapping[tuple[str, Channel], bool]: ...

    async def save(self, user_id: str, choices: Sequence[PreferenceChoice]) -> None:
        """Record each choice, replacing an earlier one for the same pair."""
        ...

    async def forget(self, user_id: str, pairs: Sequence[tuple[str, Channel]]) -> None:
        """Drop choices, so those pairs follow the defaults again."""
        ...


class PreferenceService:
    def __init__(self, *, store: PreferenceStore, catalog: NotificationCatalog) -> None:
        self._store = store
        self._catalog = catalog

    async def overview(self, user_id: str) -> list[CategoryPreferences]:
        """Every category the person may choose for, with effective and chosen values.

        A channel is on by default when any type of the category sends on it by
        default."""
        choices = await self._store.choices(user_id)
        defaults: dict[str, set[Channel]] = {}
        for notification in self._catalog.all():
            if notification.opt_out:
                defaults.setdefault(notification.category, set()).update(
                    notification.default_channels
                )
        overview = []
        for category, channels in self._catalog.categories().items():
            chosen = {c: choices[(category, c)] for c in channels if (category, c) in choices}
            effective = {
                c: chosen.get(c, c in defaults.get(category, set()))
                for c in sorted(channels, key=list(Channel).index)
            }
            overview.append(
                CategoryPreferences(category=category, channels=effective, chosen=chosen)
            )
        return overview

    async def choose(self, user_id: str, choices: Sequence[PreferenceChoice]) -> None:
        """Record choices; all are checked first, and one that may not be set changes
        nothing."""
        await self.update(user_id, choices)

    async def update(
        self,
        user_id: str,
        choices: Sequence[PreferenceChoice],
        *,
        forget: Sequence[tuple[str, Channel]] = (),
    ) -> None:
        """Record ``choices`` and forget the pairs in ``forget`` (their defaults apply
        again); all are checked first, and one that may not be set changes nothing."""
        for category, channel in [*((c.category, c.channel) for c in choices), *forget]:
            self._check(category, channel)
        if choices:
            await self._store.save(user_id, choices)
        if forget:
            await self._store.forget(user_id, forget)

    def _check(self, category: str, channel: Channel) -> None:
        if not self._catalog.may_set(category, channel):
            raise InvalidPreferenceError(
                f"{channel.value} notifications of {category!r} cannot be turned on or off "
                "(an unknown category, a channel it does not use, or messages everyone "
                "receives)",
                category=category,
                channel=channel.value,
            )

    async def reset(self, user_id: str, category: str) -> None:
        """Forget the person's choices for ``category``: its defaults apply again."""
        channels = self._catalog.categories().get(category)
        if channels is None:
            raise InvalidPreferenceError(f"there is no category {category!r} to reset")
        await self._store.forget(user_id, [(category, channel) for channel in channels])
