"""What the staff routes and ``ninefold mail`` show of the outbox, the deliveries and
the suppression list: the response shapes and the reads they share."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.notifications.deliveries import SqlDeliveryStore
from adapters.sql.notifications.outbox import StoredEmail, get_email
from adapters.sql.notifications.outbox_pages import list_emails_page
from adapters.sql.notifications.tables import TO_ADDRESS_MAX
from core.notifications import (
    Channel,
    Delivery,
    DeliveryStatus,
    EmailNotFoundError,
    Suppression,
    SuppressionReason,
)

PAGE_DEFAULT = 50
PAGE_MAX = 200
CURSOR_MAX_LENGTH = TO_ADDRESS_MAX  # an id, or (suppressions) an address
ID_MAX_LENGTH = 40
DETAIL_MAX_LENGTH = 500

Address = Annotated[
    str,
    msgspec.Meta(
        min_length=3,
        max_length=TO_ADDRESS_MAX,
        pattern=r"^\s*[^@\s]+@[^@\s]+\s*$",
        description="an email address; kept trimmed and lowercased",
        examples=["ada@example.com"],
    ),
]


# --- what the routes answer ----------------------------------------------------------------


class EmailSummaryOut(msgspec.Struct):
    id: str
    to: str
    subject: str
    category: str
    status: str
    """The outbox row's status: ``queued``, then what its delivery reached."""
    created_at: datetime

    @classmethod
    def of(cls, email: StoredEmail) -> EmailSummaryOut:
        return cls(
            id=email.id,
            to=email.to,
            subject=email.subject,
            category=email.category,
            status=email.status,
            created_at=email.created_at,
        )


class OutboxPage(msgspec.Struct):
    emails: list[EmailSummaryOut]
    next_cursor: str | None


class DeliveryOut(msgspec.Struct):
    id: str
    idempotency_key: str
    notification_type: str
    category: str
    channel: Channel
    user_id: str | None
    workspace_id: str | None
    address: str
    status: DeliveryStatus
    provider: str | None
    provider_message_id: str | None
    error: str | None
    queued_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    bounced_at: datetime | None
    complained_at: datetime | None
    failed_at: datetime | None
    suppressed_at: datetime | None
    updated_at: datetime

    @classmethod
    def of(cls, delivery: Delivery) -> DeliveryOut:
        return cls(
            id=delivery.id,
            idempotency_key=delivery.idempotency_key,
            notification_type=delivery.notification_type,
            category=delivery.category,
            channel=delivery.channel,
            user_id=delivery.user_id,
            workspace_id=delivery.workspace_id,
            address=delivery.address,
            status=delivery.status,
            provider=delivery.provider,
            provider_message_id=delivery.provider_message_id,
            error=delivery.error,
            queued_at=delivery.queued_at,
            sent_at=delivery.sent_at,
            delivered_at=delivery.delivered_at,
            bounced_at=delivery.bounced_at,
            complained_at=delivery.complained_at,
            failed_at=delivery.failed_at,
            suppressed_at=delivery.suppressed_at,
            updated_at=delivery.updated_at,
        )


class DeliveriesPage(msgspec.Struct):
    deliveries: list[DeliveryOut]
    next_cursor: str | None


class EmailOut(msgspec.Struct):
    id: str
    to: str
    subject: str
    text: str
    html: str | None
    headers: dict[str, str]
    category: str
    idempotency_key: str
    status: str
    created_at: datetime
    delivery: DeliveryOut | None
    """The email's delivery (same idempotency key); None for mail stored without one."""

    @classmethod
    def of(cls, email: StoredEmail, delivery: Delivery | None) -> EmailOut:
        return cls(
            id=email.id,
            to=email.to,
            subject=email.subject,
            text=email.text,
            html=email.html,
            headers=dict(email.headers or {}),
            category=email.category,
            idempotency_key=email.idempotency_key,
            status=email.status,
            created_at=email.created_at,
            delivery=None if delivery is None else DeliveryOut.of(delivery),
        )


class SuppressionOut(msgspec.Struct):
    address: str
    reason: SuppressionReason
    detail: str | None
    delivery_id: str | None
    created_at: datetime

    @classmethod
    def of(cls, suppression: Suppression) -> SuppressionOut:
        return cls(
            address=suppression.address,
            reason=suppression.reason,
            detail=suppression.detail,
            delivery_id=suppression.delivery_id,
            created_at=suppression.created_at,
        )


class SuppressionsPage(msgspec.Struct):
    suppressions: list[SuppressionOut]
    next_cursor: str | None


class SuppressionIn(msgspec.Struct, forbid_unknown_fields=True):
    """Suppress an address by hand. Bounces and complaints are added by the delivery
    webhooks; staff may add only ``manual`` ones."""

    address: Address
    reason: Literal["manual"] = "manual"
    detail: Annotated[str, msgspec.Meta(max_length=DETAIL_MAX_LENGTH)] | None = None


# --- reading, shared with ``ninefold mail`` -----------------------------------------------


async def outbox_page(
    session: AsyncSession, *, to: str | None, cursor: str | None, limit: int
) -> OutboxPage:
    """One page of the outbox, newest first; ``next_cursor`` is None on the last page."""
    found = await list_emails_page(session, limit=limit + 1, to=to, before=cursor)
    page = found[:limit]
    next_cursor = page[-1].id if len(found) > limit else None
    return OutboxPage([EmailSummaryOut.of(email) for email in page], next_cursor)


async def email_detail(session: AsyncSession, email_id: str) -> EmailOut:
    """One email in full, with its delivery; ``EmailNotFoundError`` when absent."""
    email = await get_email(session, email_id)
    if email is None:
        raise EmailNotFoundError(f"no email has the id {email_id!r}", email_id=email_id)
    delivery = await SqlDeliveryStore(session).by_key(email.idempotency_key)
    return EmailOut.of(email, delivery)
