"""Notifications' part of data export and erasure, on notifications' own tables.

A person's messages are theirs: erasing them deletes their in-app inbox, their
preferences, the emails and text messages sent to their address and the delivery
records about them, and the provider reports about those messages. A suppression of
their address is deleted too (it would name them; a new account starts clean). Where a
message to someone else names them, their id, email and name become the pseudonym. A
purged workspace's in-app notifications and delivery records are deleted.
"""

from __future__ import annotations

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.data_subject import records, scrub, sweep
from adapters.sql.notifications.tables import (
    deliveries,
    emails,
    inbox,
    metadata,
    preferences,
    provider_events,
    sms,
    suppressions,
)
from core.safety.data import DataSubject, Pseudonym, Records


class SqlNotificationsDataPart:
    name = "notifications"

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _addresses(self, user_id: str) -> list[str]:
        query = select(deliveries.c.address).where(deliveries.c.user_id == user_id).distinct()
        return [row for row in (await self._session.execute(query)).scalars() if row]

    async def export_user(self, user_id: str) -> Records:
        session = self._session
        addresses = [a.lower() for a in await self._addresses(user_id)]
        to_them = func.lower(emails.c.to_address).in_(addresses)
        return {
            "inbox": await records(session, select(inbox).where(inbox.c.user_id == user_id)),
            "preferences": await records(
                session, select(preferences).where(preferences.c.user_id == user_id)
            ),
            "deliveries": await records(
                session, select(deliveries).where(deliveries.c.user_id == user_id)
            ),
            "emails": await records(session, select(emails).where(to_them)),
        }

    async def export_workspace(self, workspace_id: str) -> Records:
        return {
            "deliveries": await records(
                self._session, select(deliveries).where(deliveries.c.workspace_id == workspace_id)
            ),
        }

    async def erase_user(self, subject: DataSubject, pseudonym: Pseudonym) -> None:
        session, user_id = self._session, subject.user_id
        addresses = {a.lower() for a in await self._addresses(user_id)}
        if subject.email:
            addresses.add(subject.email.lower())
        message_ids = select(deliveries.c.provider_message_id).where(
            or_(deliveries.c.user_id == user_id, func.lower(deliveries.c.address).in_(addresses)),
            deliveries.c.provider_message_id.is_not(None),
        )
        await session.execute(
            delete(provider_events).where(provider_events.c.message_id.in_(message_ids))
        )
        await session.execute(
            delete(deliveries).where(
                or_(
                    deliveries.c.user_id == user_id, func.lower(deliveries.c.address).in_(addresses)
                )
            )
        )
        await session.execute(delete(emails).where(func.lower(emails.c.to_address).in_(addresses)))
        await session.execute(
            delete(suppressions).where(func.lower(suppressions.c.address).in_(addresses))
        )
        await session.execute(delete(inbox).where(inbox.c.user_id == user_id))
        await session.execute(delete(preferences).where(preferences.c.user_id == user_id))
        await sweep(session, metadata, pseudonym.replacements(subject))
        # Messages to others that name them ("Ada invited you"): the name goes too.
        by_name = pseudonym.name_replacements(subject)
        await scrub(
            session, emails, by_name, ["subject", "text_body", "html_body"], whole_words=True
        )
        await scrub(session, inbox, by_name, ["title", "body"], whole_words=True)
        await scrub(session, sms, by_name, ["body"], whole_words=True)

    async def erase_workspace(self, workspace_id: str) -> None:
        for table in (inbox, deliveries):
            await self._session.execute(delete(table).where(table.c.workspace_id == workspace_id))
