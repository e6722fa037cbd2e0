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

from enum import StrEnum
from typing import Annotated, Any, TypeVar

import structlog
from litestar import Controller, Response, delete, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.exceptions import ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, Parameter, QueryParameter

from adapters.sql.notifications.deliveries import SqlDeliveryStore, SqlSuppressionList
from adapters.sql.notifications.tables import TO_ADDRESS_MAX, TYPE_MAX
from adapters.sql.uow import SqlUnitOfWork
from core.identity import Principal, StaffPermission
from core.notifications import (
    Channel,
    DeliveryFilter,
    DeliveryStatus,
    Suppression,
    SuppressionReason,
    normalize_address,
)
from core.notifications.errors import SuppressionNotFoundError
from entrypoints.http.auth import provide_principal
from entrypoints.http.dependencies import container_of
from entrypoints.http.identity.admin import staff_guard
from entrypoints.http.notifications.outbox_views import (
    CURSOR_MAX_LENGTH,
    ID_MAX_LENGTH,
    PAGE_DEFAULT,
    PAGE_MAX,
    DeliveriesPage,
    DeliveryOut,
    EmailOut,
    OutboxPage,
    SuppressionIn,
    SuppressionOut,
    SuppressionsPage,
    email_detail,
    outbox_page,
)
from entrypoints.http.workflows.admin import staff_may

E = TypeVar("E", bound=StrEnum)
Uow = NamedDependency[SqlUnitOfWork]
CurrentPrincipal = NamedDependency[Principal]


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
