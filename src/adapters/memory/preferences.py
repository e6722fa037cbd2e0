"""``PreferenceStore`` in memory."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from core.notifications.catalog import Channel
from core.notifications.preferences import PreferenceChoice


class InMemoryPreferenceStore:
    def __init__(self) -> None:
        self.saved: dict[str, dict[tuple[str, Channel], bool]] = {}

    async def choices(self, user_id: str) -> Mapping[tuple[str, Channel], bool]:
        return dict(self.saved.get(user_id, {}))

    async def save(self, user_id: str, choices: Sequence[PreferenceChoice]) -> None:
        mine = self.saved.setdefault(user_id, {})
        for choice in choices:
            mine[(choice.category, choice.channel)] = choice.enabled

    async def forget(self, user_id: str, pairs: Sequence[tuple[str, Channel]]) -> None:
        mine = self.saved.get(user_id, {})
        for pair in pairs:
            mine.pop(pair, None)
