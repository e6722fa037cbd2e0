"""The SMS outbox: the embedded default ``SmsSender``.

``send`` checks the message with ``check_sms`` (E.164 number, non-empty body, at most
``max_segments`` segments), then stores it in ``notifications_sms`` inside the caller's
transaction, with its segments and encoding, so a text message exists exactly when the
change that caused it is committed. Nothing is delivered: rows stay ``queued`` until a
provider adapter and a delivery worker are added (see docs/systems/notifications.md,
"Adding an SMS provider").

Idempotency is ``INSERT … ON CONFLICT (idempotency_key) DO NOTHING`` on SQLite and
PostgreSQL, as in the mail outbox (adapters/sql/notifications/outbox.py explains why).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import Insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.notifications.tables import CATEGORY_MAX, IDEMPOTENCY_KEY_MAX, sms
from core.kernel import Clock, IdGenerator
from core.notifications import DEFAULT_MAX_SEGMENTS, SmsMessage, check_sms

logger = logging.getLogger(__name__)

ID_PREFIX = "sms"
QUEUED = "queued"


class StoredSms(msgspec.Struct, frozen=True, kw_only=True):
    """One row of the SMS outbox, for ops screens and tests."""

    id: str
    to: str
    body: str
    category: str
    idempotency_key: str
    segments: int
    encoding: str
    status: str
    created_at: datetime

    @property
    def message(self) -> SmsMessage:
        """The message as it was handed to ``send``."""
        return SmsMessage(
            to=self.to,
            body=self.body,
            category=self.category,
            idempotency_key=self.idempotency_key,
        )


def _check_lengths(message: SmsMessage) -> None:
    for field, value, limit in (
        ("category", message.category, CATEGORY_MAX),
        ("idempotency_key", message.idempotency_key, IDEMPOTENCY_KEY_MAX),
    ):
        if len(value) > limit:
            raise ValueError(f"SMS {field} is longer than {limit} characters")


def _insert_unless_key_exists(dialect: str, row: dict[str, Any]) -> Insert:
    key = [sms.c.idempotency_key]
    if dialect == "sqlite":
        return sqlite.insert(sms).values(row).on_conflict_do_nothing(index_elements=key)
    if dialect == "postgresql":
        return postgresql.insert(sms).values(row).on_conflict_do_nothing(index_elements=key)
    raise NotImplementedError(f"the SMS outbox supports SQLite and PostgreSQL, not {dialect}")


class SqlSmsOutbox:
    """``SmsSender`` that queues text messages in the application's database, in the
    transaction of ``session``. Bind one to each unit of work (``uow.session``)."""

    def __init__(
        self,
        session: AsyncSession,
        clock: Clock,
        ids: IdGenerator,
        max_segments: int = DEFAULT_MAX_SEGMENTS,
    ) -> None:
        self._session = session
        self._clock = clock
        self._ids = ids
        self._max_segments = max_segments

    async def send(self, message: SmsMessage) -> None:
        segments = check_sms(message, self._max_segments)
        _check_lengths(message)
        now = self._clock.now()
        row = {
            "id": self._ids.new(ID_PREFIX, now),
            "to_number": message.to,
            "body": message.body,
            "category": message.category,
            "idempotency_key": message.idempotency_key,
            "segments": segments.segments,
            "encoding": segments.encoding,
            "status": QUEUED,
            "created_at": now,
        }
        statement = _insert_unless_key_exists(self._session.get_bind().dialect.name, row)
        result = await self._session.execute(statement)
        if not getattr(result, "rowcount", 1):
            logger.debug("SMS %s already queued; not queued again", message.idempotency_key)


def _stored(row: Any) -> StoredSms:
    return StoredSms(
        id=row.id,
        to=row.to_number,
        body=row.body,
        category=row.category,
        idempotency_key=row.idempotency_key,
        segments=row.segments,
        encoding=row.encoding,
        status=row.status,
        created_at=row.created_at,
    )


async def list_sms(
    session: AsyncSession,
    limit: int,
    to: str | None = None,
    status: str | None = None,
) -> list[StoredSms]:
    """The newest ``limit`` text messages, newest first; only those to ``to`` (an exact
    E.164 number) and in ``status`` when given."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    query = select(sms).order_by(sms.c.id.desc()).limit(limit)
    if to is not None:
        query = query.where(sms.c.to_number == to)
    if status is not None:
        query = query.where(sms.c.status == status)
    return [_stored(row) for row in await session.execute(query)]


async def get_sms(session: AsyncSession, sms_id: str) -> StoredSms | None:
    row = (await session.execute(select(sms).where(sms.c.id == sms_id))).first()
    return None if row is None else _stored(row)
