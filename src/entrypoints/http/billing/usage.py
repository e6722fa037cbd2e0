"""Metered usage, credits and invoices of a workspace, under
``/api/v1/workspaces/{id}/``: ``usage``, ``usage/batch``, ``credits``,
``credits/transactions``, ``invoices``.

Posting usage needs ``usage:write`` (give it to the API key your backend reports with);
reading needs ``billing:read``. Each event's ``id`` is its idempotency key: an event
sent again is accepted and counted once. ``POST usage`` answers 409
``billing/usage-limit-exceeded`` when the event would pass the plan's hard limit, 422
for an event that is invalid or too late; ``POST usage/batch`` (up to 1,000 events)
answers 200 with one result per event instead. Reaching 80 % and 100 % of a limit
raises one alert per threshold per period.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, Parameter, QueryParameter

from adapters.sql.uow import SqlUnitOfWork
from core.billing import EventResult, EventStatus, NewUsageEvent, UsageService
from core.billing.alerts import Alerts
from core.billing.entitlements import EntitlementService
from core.identity import WorkspaceAccess
from core.kernel import TenantContext
from entrypoints.http.auth import provide_principal
from entrypoints.http.billing.schemas import (
    CreditsOut,
    InvoiceOut,
    InvoicesOut,
    TransactionOut,
    TransactionsOut,
    UsageBatchIn,
    UsageBatchOut,
    UsageEventIn,
    UsageOut,
)
from entrypoints.http.billing.subscription import billing_service
from entrypoints.http.dependencies import container_of
from entrypoints.http.identity.workspaces import provide_access, tenant_guard

Uow = NamedDependency[SqlUnitOfWork]
Access = NamedDependency[WorkspaceAccess]
READ = {"permission": "billing:read"}
WRITE = {"permission": "usage:write"}
Limit = Annotated[int, Parameter(description="items per page", ge=1, le=100)]
Cursor = Annotated[
    str | None, Parameter(description="next_cursor of the page before", max_length=100)
]


def _event(item: UsageEventIn, now: datetime) -> NewUsageEvent:
    return NewUsageEvent(
        id=item.id,
        meter=item.meter,
        timestamp=item.timestamp or now,
        quantity=item.quantity,
        properties=item.properties,
    )


async def _alert_usage(
    state: State, uow: SqlUnitOfWork, tenant: TenantContext, meters: set[str]
) -> None:
    """Raise the thresholds the accepted events reached (once per period each)."""
    container = container_of(state)
    entitlements: EntitlementService = container.billing.entitlements(uow=uow)
    found = await entitlements.entitlements(tenant)
    alerts: Alerts = container.billing.alerts(uow=uow)
    await alerts.usage(tenant, [m for m in found.meters if m.meter in meters])


class UsageController(Controller):
    path = "/api/v1/workspaces"
    tags = ["billing"]
    guards = [tenant_guard]
    dependencies = {
        "principal": Provide(provide_principal),
        "access": Provide(provide_access),
    }

    @post(
        "/{workspace_id:str}/usage",
        summary="Report one usage event (idempotent by its id)",
        status_code=200,
        opt=WRITE,
    )
    async def report(
        self, state: State, access: Access, uow: Uow, data: JSONBody[UsageEventIn]
    ) -> EventResult:
        container = container_of(state)
        usage: UsageService = container.billing.usage(uow=uow)
        now = container.kernel.clock().now()
        result = await usage.ingest_one(access.tenant, _event(data, now))
        if result.status is EventStatus.ACCEPTED:
            await _alert_usage(state, uow, access.tenant, {data.meter})
        return result

    @post(
        "/{workspace_id:str}/usage/batch",
        summary="Report up to 1,000 usage events; one result per event",
        status_code=200,
        opt=WRITE,
    )
    async def report_batch(
        self, state: State, access: Access, uow: Uow, data: JSONBody[UsageBatchIn]
    ) -> UsageBatchOut:
        container = container_of(state)
        usage: UsageService = container.billing.usage(uow=uow)
        now = container.kernel.clock().now()
        results = await usage.ingest(access.tenant, [_event(e, now) for e in data.events], now)
        counts = dict.fromkeys(EventStatus, 0)
        for result in results:
            counts[result.status] += 1
        if counts[EventStatus.ACCEPTED]:
            accepted = {r.id for r in results if r.status is EventStatus.ACCEPTED}
            meters = {e.meter for e in data.events if e.id in accepted}
            await _alert_usage(state, uow, access.tenant, meters)
        return UsageBatchOut(
            accepted=counts[EventStatus.ACCEPTED],
            duplicates=counts[EventStatus.DUPLICATE],
            rejected=counts[EventStatus.REJECTED],
            results=results,
        )

    @get(
        "/{workspace_id:str}/usage",
        summary="Each meter's aggregate over a period (default: the current billing period)",
        opt=READ,
    )
    async def read(
        self,
        state: State,
        access: Access,
        uow: Uow,
        *,
        meter: Annotated[str | None, Parameter(description="only this meter")] = None,
        start: Annotated[
            datetime | None, QueryParameter(name="from", description="period start")
        ] = None,
        end: Annotated[datetime | None, QueryParameter(name="to", description="period end")] = None,
    ) -> list[UsageOut]:
        container = container_of(state)
        entitlements: EntitlementService = container.billing.entitlements(uow=uow)
        _granted, period = await entitlements.access(access.tenant)
        start, end = start or period.start, end or period.end
        usage: UsageService = container.billing.usage(uow=uow)
        names = [meter] if meter is not None else list(container.billing.catalog().meters)
        return [UsageOut.of(await usage.aggregate(access.tenant, n, start, end)) for n in names]

    @get("/{workspace_id:str}/credits", summary="The credit balance and its grants", opt=READ)
    async def credits(self, state: State, access: Access, uow: Uow) -> CreditsOut:
        balance, grants = await billing_service(state, uow).credits(access.tenant)
        return CreditsOut.of(balance, grants)

    @get(
        "/{workspace_id:str}/credits/transactions",
        summary="Credit transactions, newest first (grants, consumption, expiry, reversals)",
        opt=READ,
    )
    async def transactions(
        self, state: State, access: Access, uow: Uow, cursor: Cursor = None, limit: Limit = 50
    ) -> TransactionsOut:
        service = billing_service(state, uow)
        page = await service.ledger.transactions(access.tenant, limit=limit, cursor=cursor)
        return TransactionsOut([TransactionOut.of(t) for t in page.items], page.next_cursor)

    @get(
        "/{workspace_id:str}/invoices",
        summary="Invoices mirrored from the payment provider, newest first",
        opt=READ,
    )
    async def invoices(
        self, state: State, access: Access, uow: Uow, cursor: Cursor = None, limit: Limit = 50
    ) -> InvoicesOut:
        service = billing_service(state, uow)
        found = await service.stores.invoices.page(access.tenant, before=cursor, limit=limit + 1)
        more = len(found) > limit
        found = found[:limit]
        return InvoicesOut(
            [InvoiceOut.of(i) for i in found],
            found[-1].provider_invoice_id if more and found else None,
        )
