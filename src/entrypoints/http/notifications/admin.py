"""Staff look at the mail: ``/api/v1/admin/outbox``, ``/api/v1/admin/deliveries`` and
``/api/v1/admin/suppressions``.

The identity system's ``staff_guard`` answers first (anonymous 401, not staff 404, staff
without two-factor 403 where it is required); then each route needs a staff permission:
``mail:read`` to look (support, ops, superadmin), ``notifications:manage`` to add or
remove a suppressed address (ops, superadmin); 403 ``identity/staff-permission-denied``
otherwise. Everything is read and changed in the request's unit of work. Each change is
written to the log with the staff member's id once it is committed (until the audit log
exists).

The page functions (``outbox_page``, ``email_detail``) also serve ``ninefold mail``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar

import msgspec
import structlog
from litestar import Controller, Response, delete, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.exceptions import ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, Parameter, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.notifications.deliveries import SqlDeliveryStore, SqlSuppressionList
from adapters.sql.notifications.outbox import StoredEmail, get_email
from adapters.sql.notifications.outbox_pages import list_emails_page
from adapters.sql.notifications.tables import TO_ADDRESS_MAX, TYPE_MAX
from adapters.sql.uow import SqlUnitOfWork
from core.identity import Principal, StaffPermission
from core.notifications import (
    Channel,
    Delivery,
    DeliveryFilter,
    DeliveryStatus,
    EmailNotFoundError,
    Suppression,
    SuppressionReason,
    normalize_address,
)
from core.notifications.errors import SuppressionNotFoundError
from entrypoints.http.auth import provide_principal
from entrypoints.http.dependencies import container_of
from entrypoints.http.identity.admin import staff_guard
from entrypoints.http.workflows.admin import staff_may

PAGE_DEFAULT = 50
PAGE_MAX = 200
CURSOR_MAX_LENGTH = TO_ADDRESS_MAX  # an id, or (suppressions) an address
ID_MAX_LENGTH = 40
DETAIL_MAX_LENGTH = 500

E = TypeVar("E", bound=StrEnum)
Uow = NamedDependency[SqlUnitOfWork]
CurrentPrincipal = NamedDependency[Principal]
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


def _record(principal: Principal, action: str, **fields: Any) -> None:
    """A staff action, as a structured log line (until the audit log exists); the same
    line as the jobs admin writes."""
    structlog.get_logger("ninefold.staff").info(
        "staff action",
        staff_id=principal.user.id,
        staff_role=str(principal.user.staff_role),
        action=action,
        **fields,
    )


def _record_after_commit(
    uow: SqlUnitOfWork, principal: Principal, action: str, **fields: Any
) -> None:
    async def record() -> None:
        _record(principal, action, **fields)

    uow.after_commit(record)


def _choice(kind: type[E], key: str, value: str | None) -> E | None:
    """A query filter of an enum type, parsed here so that the 400 names the query's
    parameter and every value it allows."""
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(member.value for member in kind)
        raise ValidationException(
            extra=[
                {
                    "message": f"Invalid {key} {value!r}: one of {choices}",
                    "key": key,
                    "source": "query",
                }
            ]
        ) from None


def _address_filter(value: str | None) -> str | None:
    """Email addresses are stored normalized; numbers and user ids as they are."""
    if value is None:
        return None
    return normalize_address(value) if "@" in value else value.strip()


# --- the routes ----------------------------------------------------------------------------

Cursor = Annotated[
    str | None,
    Parameter(description="next_cursor of the page before", max_length=CURSOR_MAX_LENGTH),
]
Limit = Annotated[int, Parameter(description="items per page", ge=1, le=PAGE_MAX)]


class NotificationsAdminController(Controller):
    path = "/api/v1/admin"
    tags = ["admin"]
    guards = [staff_guard]
    dependencies = {"principal": Provide(provide_principal)}

    @get(
        "/outbox",
        summary="List the mail outbox, newest first (staff: mail:read)",
        guards=[staff_may(StaffPermission.MAIL_READ)],
    )
    async def list_outbox(
        self,
        *,
        uow: Uow,
        to: Annotated[
            str | None,
            Parameter(description="only mail to this address", max_length=TO_ADDRESS_MAX),
        ] = None,
        cursor: Cursor = None,
        limit: Limit = PAGE_DEFAULT,
    ) -> OutboxPage:
        return await outbox_page(uow.session, to=to, cursor=cursor, limit=limit)

    @get(
        "/outbox/{email_id:str}",
        summary="One email in full, with its delivery (staff: mail:read)",
        guards=[staff_may(StaffPermission.MAIL_READ)],
    )
    async def read_email(self, uow: Uow, email_id: FromPath[str]) -> EmailOut:
        return await email_detail(uow.session, email_id)

    @get(
        "/deliveries",
        summary="List deliveries, newest first (staff: mail:read)",
        guards=[staff_may(StaffPermission.MAIL_READ)],
    )
    async def list_deliveries(
        self,
        *,
        uow: Uow,
        channel: Annotated[
            str | None,
            QueryParameter(
                name="channel", description="only this channel", enum=[c.value for c in Channel]
            ),
        ] = None,
        delivery_status: Annotated[
            str | None,
            QueryParameter(
                name="status",
                description="only deliveries in this state",
                enum=[s.value for s in DeliveryStatus],
            ),
        ] = None,
        address: Annotated[
            str | None,
            Parameter(
                description="only to this address (email, E.164 number or, in-app, user id)",
                max_length=TO_ADDRESS_MAX,
            ),
        ] = None,
        user_id: Annotated[
            str | None, Parameter(description="only for this user", max_length=ID_MAX_LENGTH)
        ] = None,
        notification_type: Annotated[
            str | None,
            QueryParameter(
                name="type",
                description="only this notification type, e.g. identity.verify_email",
                max_length=TYPE_MAX,
            ),
        ] = None,
        cursor: Cursor = None,
        limit: Limit = PAGE_DEFAULT,
    ) -> DeliveriesPage:
        query = DeliveryFilter(
            channel=_choice(Channel, "channel", channel),
            status=_choice(DeliveryStatus, "status", delivery_status),
            address=_address_filter(address),
            user_id=user_id,
            notification_type=notification_type,
        )
        found = await SqlDeliveryStore(uow.session).page(query, before=cursor, limit=limit + 1)
        page = list(found[:limit])
        next_cursor = page[-1].id if len(found) > limit else None
        return DeliveriesPage([DeliveryOut.of(d) for d in page], next_cursor)

    @get(
        "/suppressions",
        summary="List the suppressed email addresses, by address (staff: mail:read)",
        guards=[staff_may(StaffPermission.MAIL_READ)],
    )
    async def list_suppressions(
        self, *, uow: Uow, cursor: Cursor = None, limit: Limit = PAGE_DEFAULT
    ) -> SuppressionsPage:
        found = await SqlSuppressionList(uow.session).page(after=cursor, limit=limit + 1)
        page = list(found[:limit])
        next_cursor = page[-1].address if len(found) > limit else None
        return SuppressionsPage([SuppressionOut.of(s) for s in page], next_cursor)

    @post(
        "/suppressions",
        summary="Suppress an email address by hand: nothing more is sent to it "
        "(staff: notifications:manage)",
        status_code=201,
        guards=[staff_may(StaffPermission.NOTIFICATIONS_MANAGE)],
        responses={
            200: ResponseSpec(
                SuppressionOut, description="Suppressed already: the suppression in place"
            )
        },
    )
    async def add_suppression(
        self, *, state: State, principal: CurrentPrincipal, uow: Uow, data: JSONBody[SuppressionIn]
    ) -> Response[SuppressionOut]:
        """201 with the new suppression; 200 with the one in place when the address was
        suppressed already (its first reason is kept)."""
        suppressions = SqlSuppressionList(uow.session)
        address = normalize_address(data.address)
        detail = (data.detail or "").strip() or None
        added = await suppressions.add(
            Suppression(
                address=address,
                reason=SuppressionReason.MANUAL,
                detail=detail,
                created_at=container_of(state).kernel.clock().now(),
            )
        )
        current = await suppressions.get(address)
        assert current is not None  # added, or there already, in this transaction
        if added:
            _record_after_commit(
                uow, principal, "notifications.suppress", address=address, detail=detail
            )
        return Response(SuppressionOut.of(current), status_code=201 if added else 200)

    @delete(
        "/suppressions/{address:str}",
        summary="Remove an address from the suppression list: it may be sent mail again "
        "(staff: notifications:manage)",
        guards=[staff_may(StaffPermission.NOTIFICATIONS_MANAGE)],
    )
    async def remove_suppression(
        self, *, principal: CurrentPrincipal, uow: Uow, address: FromPath[str]
    ) -> None:
        suppressions = SqlSuppressionList(uow.session)
        found = await suppressions.get(address)
        if found is None or not await suppressions.remove(address):
            raise SuppressionNotFoundError(
                f"{normalize_address(address)!r} is not suppressed", address=address
            )
        _record_after_commit(
            uow,
            principal,
            "notifications.unsuppress",
            address=found.address,
            reason=found.reason.value,
        )
