"""The mail outbox: the embedded default ``EmailSender``, and ``SqlOutboxReader``.

``send`` stores the message in ``notifications_emails`` inside the caller's transaction,
so an email exists exactly when the change that caused it is committed. The row keeps
every field of the ``EmailMessage``, its ``headers`` (``List-Unsubscribe``, …) as a JSON
object, so a delivery job can hand the stored message to a provider as it was sent.
Rows start ``queued``; ``SqlOutboxReader.mark`` mirrors a delivery's later states on
them (and on ``notifications_sms`` rows), for people reading the outbox.

Idempotency uses ``INSERT … ON CONFLICT (idempotency_key) DO NOTHING``, which SQLite
(3.24+) and PostgreSQL both speak. One statement, no exception, no savepoint: the
caller's transaction is never put in an error state, and on PostgreSQL a concurrent
transaction holding the same key makes this one wait and then skip (or insert, if that
one rolls back) instead of failing. The alternative, a SAVEPOINT around a plain insert
catching ``IntegrityError``, costs two extra round trips on every send and turns a
duplicate into an exception path.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import Insert, Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.notifications.tables import (
    CATEGORY_MAX,
    IDEMPOTENCY_KEY_MAX,
    TO_ADDRESS_MAX,
    emails,
    sms,
)
from core.kernel import Clock, IdGenerator
from core.notifications import Channel, EmailMessage, SmsMessage
from core.notifications.deliveries import DeliveryStatus

logger = logging.getLogger(__name__)

ID_PREFIX = "eml"
QUEUED = "queued"


class StoredEmail(msgspec.Struct, frozen=True, kw_only=True):
    """One row of the mail outbox, for ops screens and tests."""

    id: str
    to: str
    subject: str
    text: str
    html: str | None
    category: str
    idempotency_key: str
    status: str
    created_at: datetime
    headers: dict[str, str] | None = None

    @property
    def message(self) -> EmailMessage:
        """The message as it was handed to ``send``."""
        return EmailMessage(
            to=self.to,
            subject=self.subject,
            text=self.text,
            html=self.html,
            category=self.category,
            idempotency_key=self.idempotency_key,
            headers=None if self.headers is None else dict(self.headers),
        )


def encode_headers(headers: dict[str, str] | None) -> str | None:
    """``headers`` as stored: a JSON object, or ``None``."""
    return None if headers is None else msgspec.json.encode(headers).decode()


def decode_headers(stored: str | None) -> dict[str, str] | None:
    return None if stored is None else msgspec.json.decode(stored, type=dict[str, str])


def _check_lengths(message: EmailMessage) -> None:
    for field, value, limit in (
        ("to", message.to, TO_ADDRESS_MAX),
        ("category", message.category, CATEGORY_MAX),
        ("idempotency_key", message.idempotency_key, IDEMPOTENCY_KEY_MAX),
    ):
        if len(value) > limit:
            raise ValueError(f"email {field} is longer than {limit} characters")


def _insert_unless_key_exists(dialect: str, row: dict[str, Any]) -> Insert:
    key = [emails.c.idempotency_key]
    if dialect == "sqlite":
        return sqlite.insert(emails).values(row).on_conflict_do_nothing(index_elements=key)
    if dialect == "postgresql":
        return postgresql.insert(emails).values(row).on_conflict_do_nothing(index_elements=key)
    raise NotImplementedError(f"the mail outbox supports SQLite and PostgreSQL, not {dialect}")


class SqlEmailOutbox:
    """``EmailSender`` that queues messages in the application's database, in the
    transaction of ``session``. Bind one to each unit of work (``uow.session``)."""

    def __init__(self, session: AsyncSession, clock: Clock, ids: IdGenerator) -> None:
        self._session = session
        self._clock = clock
        self._ids = ids

    async def send(self, message: EmailMessage) -> None:
        _check_lengths(message)
        now = self._clock.now()
        row = {
            "id": self._ids.new(ID_PREFIX, now),
            "to_address": message.to,
            "subject": message.subject,
            "text_body": message.text,
            "html_body": message.html,
            "headers": encode_headers(message.headers),
            "category": message.category,
            "idempotency_key": message.idempotency_key,
            "status": QUEUED,
            "created_at": now,
        }
        statement = _insert_unless_key_exists(self._session.get_bind().dialect.name, row)
        result = await self._session.execute(statement)
        if not getattr(result, "rowcount", 1):
            logger.debug("email %s already queued; not queued again", message.idempotency_key)


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


async def list_emails(
    session: AsyncSession, limit: int, to: str | None = None
) -> list[StoredEmail]:
    """The newest ``limit`` emails, newest first; only those to ``to`` (exact address)
    when given."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    query = select(emails).order_by(emails.c.id.desc()).limit(limit)
    if to is not None:
        query = query.where(emails.c.to_address == to)
    return [_stored(row) for row in await session.execute(query)]


async def get_email(session: AsyncSession, email_id: str) -> StoredEmail | None:
    row = (await session.execute(select(emails).where(emails.c.id == email_id))).first()
    return None if row is None else _stored(row)


class SqlOutboxReader:
    """``OutboxReader`` on the mail and SMS outboxes, in the transaction of ``session``
    (the delivery job's unit of work). Never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def email(self, idempotency_key: str) -> EmailMessage | None:
        query = select(emails).where(emails.c.idempotency_key == idempotency_key)
        row = (await self._session.execute(query)).first()
        return None if row is None else _stored(row).message

    async def sms(self, idempotency_key: str) -> SmsMessage | None:
        query = select(sms.c.to_number, sms.c.body, sms.c.category).where(
            sms.c.idempotency_key == idempotency_key
        )
        row = (await self._session.execute(query)).first()
        if row is None:
            return None
        return SmsMessage(
            to=row.to_number, body=row.body, category=row.category, idempotency_key=idempotency_key
        )

    async def mark(self, channel: Channel, idempotency_key: str, status: DeliveryStatus) -> None:
        """Set the ``status`` of the outbox row with this key; nothing for in-app
        notifications (they have no outbox row) or for a key that is not stored."""
        table: Table | None = {Channel.EMAIL: emails, Channel.SMS: sms}.get(channel)
        if table is None:
            return
        await self._session.execute(
            update(table)
            .where(table.c.idempotency_key == idempotency_key)
            .values(status=DeliveryStatus(status).value)
        )
