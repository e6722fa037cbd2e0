"""Forgetting old notifications: what ``notifications.prune`` deletes.

Past the retention, these go: outbox emails and SMS (their bodies hold links that
should not outlive their use), deliveries, provider reports, and in-app notifications
that were read. Unread in-app notifications stay until read, so nobody loses one
unseen; the suppression list and preferences are never pruned (they are decisions,
not history).
"""

from __future__ import annotations

from datetime import datetime

import msgspec
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.notifications.tables import deliveries, emails, inbox, provider_events, sms


class Pruned(msgspec.Struct, frozen=True, kw_only=True):
    emails: int
    sms: int
    deliveries: int
    provider_events: int
    inbox: int

    @property
    def total(self) -> int:
        return self.emails + self.sms + self.deliveries + self.provider_events + self.inbox


async def prune_notifications(session: AsyncSession, before: datetime) -> Pruned:
    """Delete what is older than ``before``, in the caller's transaction."""

    async def gone(statement: object) -> int:
        result = await session.execute(statement)  # type: ignore[call-overload]
        return int(getattr(result, "rowcount", 0) or 0)

    return Pruned(
        emails=await gone(delete(emails).where(emails.c.created_at < before)),
        sms=await gone(delete(sms).where(sms.c.created_at < before)),
        deliveries=await gone(delete(deliveries).where(deliveries.c.queued_at < before)),
        provider_events=await gone(
            delete(provider_events).where(provider_events.c.received_at < before)
        ),
        inbox=await gone(
            delete(inbox).where(inbox.c.created_at < before, inbox.c.read_at.is_not(None))
        ),
    )
