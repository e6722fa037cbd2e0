"""Pages of the mail outbox for the staff view (``/api/v1/admin/outbox``, ``ninefold
mail list``): newest first, a page at a time, by id.

``list_emails`` in ``outbox.py`` answers "the newest N"; a staff screen also needs the
page after a given id. Ids are time-ordered, so "older than the cursor" is ``id < cursor``
and the primary key serves the order. Reads only, in the caller's session.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.notifications.outbox import StoredEmail, decode_headers
from adapters.sql.notifications.tables import emails
from core.notifications import normalize_address


def _stored(row: Any) -> StoredEmail:
    return StoredEmail(
        id=row.id,
        to=row.to_address,
        subject=row.subject,
        text=row.text_body,
        html=row.html_body,
        category=row.category,
        idempotency_key=row.idempotency_key,
        status=row.status,
        created_at=row.created_at,
        headers=decode_headers(row.headers),
    )


async def list_emails_page(
    session: AsyncSession, *, limit: int, to: str | None = None, before: str | None = None
) -> list[StoredEmail]:
    """At most ``limit`` emails, newest first: only those older than the email ``before``
    (an id, the last of the page before) when given, and only those to ``to`` when given.

    ``to`` matches the address as typed or in its normalized form (lowercase, trimmed),
    which is how the notifications system stores it: ``Ada@Example.com`` finds the mail
    sent to ``ada@example.com``."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    query = select(emails).order_by(emails.c.id.desc()).limit(limit)
    if before is not None:
        query = query.where(emails.c.id < before)
    if to is not None:
        forms = sorted({to.strip(), normalize_address(to)})
        query = query.where(emails.c.to_address.in_(forms))
    return [_stored(row) for row in await session.execute(query)]
