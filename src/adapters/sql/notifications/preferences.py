"""People's notification choices on SQL: ``PreferenceStore`` on
``notifications_preferences``, one row per (user, category, channel) they chose.

Works in the transaction of the ``AsyncSession`` it is given and never commits.
``save`` is one ``INSERT … ON CONFLICT (user_id, category, channel) DO UPDATE`` on
SQLite and PostgreSQL, so a choice replaces an earlier one without a read first and
without a unique violation when two requests choose at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Insert, and_, delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.notifications.tables import check_lengths, preferences
from core.kernel import Clock, SystemClock
from core.notifications import Channel, PreferenceChoice

_PAIR = [preferences.c.user_id, preferences.c.category, preferences.c.channel]


def _upsert(dialect: str, rows: list[dict[str, Any]]) -> Insert:
    """Insert ``rows``, or update ``enabled`` and ``updated_at`` of a stored pair."""
    if dialect == "sqlite":
        lite = sqlite.insert(preferences).values(rows)
        changed = {"enabled": lite.excluded.enabled, "updated_at": lite.excluded.updated_at}
        return lite.on_conflict_do_update(index_elements=_PAIR, set_=changed)
    if dialect == "postgresql":
        pg = postgresql.insert(preferences).values(rows)
        changed = {"enabled": pg.excluded.enabled, "updated_at": pg.excluded.updated_at}
        return pg.on_conflict_do_update(index_elements=_PAIR, set_=changed)
    raise NotImplementedError(f"preferences support SQLite and PostgreSQL, not {dialect}")


class SqlPreferenceStore:
    """``clock`` stamps ``updated_at`` (the port's ``save`` takes no time); the system
    clock unless given."""

    def __init__(self, session: AsyncSession, clock: Clock | None = None) -> None:
        self._session = session
        self._clock = clock if clock is not None else SystemClock()

    async def choices(self, user_id: str) -> Mapping[tuple[str, Channel], bool]:
        query = select(preferences.c.category, preferences.c.channel, preferences.c.enabled).where(
            preferences.c.user_id == user_id
        )
        return {
            (row.category, Channel(row.channel)): bool(row.enabled)
            for row in await self._session.execute(query)
        }

    async def save(self, user_id: str, choices: Sequence[PreferenceChoice]) -> None:
        # The last choice for a pair wins; PostgreSQL refuses to update one row twice in
        # one statement, so each pair goes in once.
        latest = {(c.category, Channel(c.channel)): c.enabled for c in choices}
        if not latest:
            return
        now = self._clock.now()
        rows = [
            {
                "user_id": user_id,
                "category": category,
                "channel": channel.value,
                "enabled": enabled,
                "updated_at": now,
            }
            for (category, channel), enabled in latest.items()
        ]
        for row in rows:
            check_lengths(preferences, row, "preference")
        await self._session.execute(_upsert(self._session.get_bind().dialect.name, rows))

    async def forget(self, user_id: str, pairs: Sequence[tuple[str, Channel]]) -> None:
        if not pairs:
            return
        await self._session.execute(
            delete(preferences).where(
                preferences.c.user_id == user_id,
                or_(
                    *(
                        and_(
                            preferences.c.category == category,
                            preferences.c.channel == Channel(channel).value,
                        )
                        for category, channel in pairs
                    )
                ),
            )
        )
