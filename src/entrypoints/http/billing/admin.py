"""Staff look at billing: ``/api/v1/admin/billing/…``.

``billing:read`` (support, ops, superadmin): subscriptions, and the payment providers'
stored webhook events with their outcome. ``billing:manage`` (ops, superadmin): replay a
stored event (applying is idempotent: what was applied stays applied once), and grant
credits to a workspace with a reason (a staff grant in the ledger, with the staff
member's id, and a ``credits.granted`` audit log entry).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, Parameter

from adapters.sql.identity.repositories.workspaces import SqlWorkspaceRepository
from adapters.sql.uow import SqlUnitOfWork
from core.billing import CreditSource, SubscriptionStatus
from core.billing.ports import WebhookEventStatus
from core.billing.service import BillingService
from core.identity import Principal, StaffPermission, WorkspaceNotFoundError
from core.kernel import TenantContext, ValidationError
from core.safety import AuditRecord
from entrypoints.billing.ingest import WebhookEventNotFoundError, replay_event
from entrypoints.http.auth import provide_principal
from entrypoints.http.billing.schemas import (
    GrantOut,
    SubscriptionOut,
    WebhookEventDetailOut,
    WebhookEventOut,
)
from entrypoints.http.dependencies import container_of
from entrypoints.http.identity.admin import staff_guard
from entrypoints.http.workflows.admin import staff_may

Uow = NamedDependency[SqlUnitOfWork]
CurrentPrincipal = NamedDependency[Principal]
Limit = Annotated[int, Parameter(description="items per page", ge=1, le=100)]


class AdminSubscriptionOut(SubscriptionOut):
    workspace_id: str
    provider_subscription_id: str | None


class AdminSubscriptionsOut(msgspec.Struct):
    subscriptions: list[AdminSubscriptionOut]
    next_cursor: str | None


class WebhookEventsOut(msgspec.Struct):
    events: list[WebhookEventOut]
    next_cursor: str | None
    """``received_at|event_id`` of the last event; pass it back for the next page."""


class StaffGrantIn(msgspec.Struct, forbid_unknown_fields=True):
    workspace_id: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    amount: Annotated[int, msgspec.Meta(ge=1, le=100_000_000)]
    reason: Annotated[str, msgspec.Meta(min_length=3, max_length=500)]
    expires_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    idempotency_key: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | None = None


def _service(state: State, uow: SqlUnitOfWork) -> BillingService:
    service: BillingService = container_of(state).billing.service(uow=uow)
    return service


class BillingAdminController(Controller):
    path = "/api/v1/admin/billing"
    tags = ["admin"]
    guards = [staff_guard]
    dependencies = {"principal": Provide(provide_principal)}

    @get(
        "/subscriptions",
        summary="Subscriptions by id, with filters (staff: billing:read)",
        guards=[staff_may(StaffPermission.BILLING_READ)],
    )
    async def subscriptions(
        self,
        state: State,
        uow: Uow,
        *,
        status: Annotated[
            SubscriptionStatus | None, Parameter(description="only this status")
        ] = None,
        workspace_id: Annotated[str | None, Parameter(max_length=40)] = None,
        cursor: Annotated[str | None, Parameter(max_length=40)] = None,
        limit: Limit = 50,
    ) -> AdminSubscriptionsOut:
        found = await _service(state, uow).stores.subscriptions.page(
            status=status, workspace_id=workspace_id, after=cursor, limit=limit + 1
        )
        more = len(found) > limit
        found = found[:limit]
        return AdminSubscriptionsOut(
            [
                AdminSubscriptionOut(
                    **msgspec.structs.asdict(SubscriptionOut.of(sub)),
                    workspace_id=sub.workspace_id,
                    provider_subscription_id=sub.provider_subscription_id,
                )
                for sub in found
            ],
            found[-1].id if more and found else None,
        )

    @get(
        "/webhook-events",
        summary="Stored payment-provider webhook events, newest first (staff: billing:read)",
        guards=[staff_may(StaffPermission.BILLING_READ)],
    )
    async def webhook_events(
        self,
        state: State,
        uow: Uow,
        *,
        provider: Annotated[str | None, Parameter(max_length=20)] = None,
        status: Annotated[WebhookEventStatus | None, Parameter()] = None,
        type: Annotated[str | None, Parameter(max_length=100)] = None,
        workspace_id: Annotated[str | None, Parameter(max_length=40)] = None,
        cursor: Annotated[str | None, Parameter(max_length=200)] = None,
        limit: Limit = 50,
    ) -> WebhookEventsOut:
        before = None
        if cursor:
            at, _, event_id = cursor.partition("|")
            try:
                received_at = datetime.fromisoformat(at)
            except ValueError:
                received_at = None
            if received_at is None or received_at.tzinfo is None or not event_id:
                raise ValidationError("not a next_cursor this route answered", field="cursor")
            before = (received_at, event_id)
        found = await _service(state, uow).stores.webhook_events.page(
            provider=provider,
            status=status,
            type=type,
            workspace_id=workspace_id,
            before=before,
            limit=limit + 1,
        )
        more = len(found) > limit
        found = found[:limit]
        last = found[-1] if more and found else None
        return WebhookEventsOut(
            [WebhookEventOut.of(e) for e in found],
            f"{last.received_at.isoformat()}|{last.event_id}" if last else None,
        )

    @get(
        "/webhook-events/{provider:str}/{event_id:str}",
        summary="One stored webhook event with its body (staff: billing:read)",
        guards=[staff_may(StaffPermission.BILLING_READ)],
    )
    async def webhook_event(
        self, state: State, uow: Uow, provider: FromPath[str], event_id: FromPath[str]
    ) -> WebhookEventDetailOut:
        found = await _service(state, uow).stores.webhook_events.get(provider, event_id)
        if found is None:
            raise WebhookEventNotFoundError(f"no stored {provider} event {event_id}")
        shown = msgspec.structs.asdict(WebhookEventOut.of(found))
        return WebhookEventDetailOut(**shown, body=found.body.decode("utf-8", "replace"))

    @post(
        "/webhook-events/{provider:str}/{event_id:str}/replay",
        summary="Apply a stored webhook event again (staff: billing:manage)",
        status_code=202,
        guards=[staff_may(StaffPermission.BILLING_MANAGE)],
    )
    async def replay(
        self, state: State, provider: FromPath[str], event_id: FromPath[str]
    ) -> WebhookEventOut:
        return WebhookEventOut.of(await replay_event(container_of(state), provider, event_id))

    @post(
        "/credit-grants",
        summary="Grant credits to a workspace, with a reason (staff: billing:manage)",
        status_code=201,
        guards=[staff_may(StaffPermission.BILLING_MANAGE)],
    )
    async def grant(
        self, state: State, uow: Uow, principal: CurrentPrincipal, data: JSONBody[StaffGrantIn]
    ) -> GrantOut:
        from core.billing import GrantBalance

        service = _service(state, uow)
        if await SqlWorkspaceRepository(uow.session).get(TenantContext(data.workspace_id)) is None:
            raise WorkspaceNotFoundError(f"no workspace {data.workspace_id}")
        key = data.idempotency_key or f"staff:{principal.user.id}:{service.clock.now().isoformat()}"
        tenant = TenantContext(data.workspace_id, actor_id=principal.user.id)
        replayed = await service.ledger.posted(tenant, f"staff-grant:{key}") is not None
        grant = await service.ledger.grant(
            tenant,
            source=CreditSource.STAFF,
            amount=data.amount,
            key=f"staff-grant:{key}",
            expires_at=data.expires_at,
            reason=f"{data.reason} (staff {principal.user.id})",
        )
        if replayed:  # the same request again: granted and recorded once
            return GrantOut.of(GrantBalance(grant=grant, remaining=grant.amount))
        granted = AuditRecord(
            action="credits.granted",
            workspace_id=data.workspace_id,
            target_type="credit_grant",
            target_id=grant.id,
            after={"amount": data.amount, "expires_at": data.expires_at},
            reason=data.reason,
        )
        await container_of(state).safety.audit(uow=uow).record(granted)
        return GrantOut.of(GrantBalance(grant=grant, remaining=grant.amount))
