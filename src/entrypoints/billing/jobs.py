"""Billing's jobs, schedules and event subscriptions.

- ``billing.apply_webhook``: applies a stored provider webhook (``ingest.py``).
- ``billing.report_usage`` (hourly): sends each live subscription's metered usage of
  the current period and the one before it (what arrived after the last report before
  a renewal) to the provider, only the difference since the last report, under an
  idempotency key naming the period and the running total: a report that failed half
  way is sent again with the same key and counted once (that is the reconciliation of
  usage with the provider).
- ``billing.reconcile`` (every 6 hours): refetches each live subscription from the
  provider and applies it, so a webhook that never came is made up for (one that the
  provider refuses is logged and skipped).
- ``billing.expire_credits`` (hourly): posts breakage for expired credit grants.
- ``billing.sandbox_tick`` (every minute, sandbox only): the sandbox renews, charges,
  retries and ends subscriptions as time passes, and redelivers its webhooks.
- Identity's member events set the seats billed; ``InvoicePaymentFailed`` (dunning: one
  message per failed attempt),
  ``CreditsLow`` and ``UsageThresholdReached`` become notifications to the workspace's
  owners, admins and billing members.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import msgspec

from adapters.sql.identity.repositories.users import SqlUserRepository
from adapters.sql.identity.repositories.workspaces import SqlWorkspaceRepository
from core.billing import SubscriptionStatus, add_interval
from core.billing.events import CreditsLow, InvoicePaymentFailed, UsageThresholdReached
from core.billing.payments import UsageRecord
from core.identity import MemberAdded, MemberRemoved, WorkspaceRole
from core.kernel import DomainError, TenantContext
from core.notifications import NotificationRequest, Recipient
from core.workflows import JobContext, JobType, RetryPolicy, Schedule
from entrypoints.billing.ingest import (
    APPLY_WEBHOOK,
    BILLING_QUEUE,
    ApplyWebhook,
    apply_stored_event,
    connect_sandbox,
)

if TYPE_CHECKING:
    from entrypoints.containers import ApplicationContainer

logger = logging.getLogger("ninefold.billing")

BILLING_ROLES = frozenset({WorkspaceRole.OWNER, WorkspaceRole.ADMIN, WorkspaceRole.BILLING})
LIVE = (SubscriptionStatus.TRIALING, SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE)


class Tick(msgspec.Struct, frozen=True):
    """The payload of a periodic billing job (none needed)."""


_periodic = RetryPolicy(max_attempts=3, base_delay=30.0, max_delay=600.0)
REPORT_USAGE = JobType("billing.report_usage", Tick, queue=BILLING_QUEUE, retry=_periodic)
RECONCILE = JobType("billing.reconcile", Tick, queue=BILLING_QUEUE, retry=_periodic)
EXPIRE_CREDITS = JobType("billing.expire_credits", Tick, queue=BILLING_QUEUE, retry=_periodic)
SANDBOX_TICK = JobType(
    "billing.sandbox_tick", Tick, queue=BILLING_QUEUE, retry=_periodic, timeout=120.0
)


def billing_schedules() -> list[Schedule]:
    hourly = timedelta(hours=1)
    return [
        Schedule("billing.report_usage", REPORT_USAGE, Tick(), every=hourly),
        Schedule("billing.reconcile", RECONCILE, Tick(), every=timedelta(hours=6)),
        Schedule("billing.expire_credits", EXPIRE_CREDITS, Tick(), every=hourly),
        Schedule("billing.sandbox_tick", SANDBOX_TICK, Tick(), every=timedelta(minutes=1)),
    ]


async def billing_recipients(session: object, workspace_id: str) -> tuple[str, list[Recipient]]:
    """The workspace's name and the members who hear about its billing: owners, admins
    and billing members who are not banned."""
    from sqlalchemy.ext.asyncio import AsyncSession

    assert isinstance(session, AsyncSession)
    workspaces, users = SqlWorkspaceRepository(session), SqlUserRepository(session)
    tenant = TenantContext(workspace_id)
    workspace = await workspaces.get(tenant)
    found: list[Recipient] = []
    for member in await workspaces.members(tenant):
        if member.role not in BILLING_ROLES:
            continue
        user = await users.get(member.user_id)
        if user is not None and not user.is_banned:
            found.append(
                Recipient(
                    user_id=user.id,
                    email=user.email,
                    name=user.name or None,
                    workspace_id=workspace_id,
                )
            )
    name = workspace.name if workspace is not None else workspace_id
    return name, sorted(found, key=lambda r: r.email or "")


async def report_usage(container: ApplicationContainer) -> int:
    """One pass of usage reporting; the number of records sent."""
    provider = container.billing.payment_provider()
    catalog = container.billing.catalog()
    sent, after = 0, None
    while True:
        async with container.unit_of_work() as uow:
            stores = container.billing.stores(uow.session)
            page = await stores.subscriptions.page(after=after, limit=100)
        if not page:
            return sent
        after = page[-1].id
        for sub in page:
            if sub.status not in LIVE or sub.provider != provider.name:
                continue
            if sub.current_period_start is None or sub.current_period_end is None:
                continue
            plan = catalog.plan(sub.plan)
            metered = [
                name for name, terms in plan.meters.items() if terms.overage_in(sub.currency)
            ]
            for meter in metered:
                sent += await _report_meter(container, sub.id, meter)


async def _report_meter(container: ApplicationContainer, subscription_id: str, meter: str) -> int:
    """Report the meter's usage of the current period and of the one before it (usage
    that arrived after the last report before a renewal, late events): only what the
    provider has not counted yet. The number of records sent."""
    provider = container.billing.payment_provider()
    clock = container.kernel.clock()
    sent = 0
    async with container.unit_of_work() as uow:
        stores = container.billing.stores(uow.session)
        sub = await stores.subscriptions.get(subscription_id)
        if sub is None or sub.current_period_start is None or sub.current_period_end is None:
            return 0
        customer = await stores.customers.customer_id(provider.name, sub.workspace_id)
        if customer is None:
            return 0
        tenant = TenantContext(sub.workspace_id)
        usage = container.billing.usage(uow=uow)
        start, end = sub.current_period_start, sub.current_period_end
        previous = add_interval(start, sub.interval, -1)
        for period_start, period_end in ((previous, start), (start, end)):
            total = math.ceil(
                (await usage.aggregate(tenant, meter, period_start, period_end)).value
            )
            reported = await stores.usage_reports.reported(sub.workspace_id, meter, period_start)
            if total <= reported:
                continue
            record = UsageRecord(
                idempotency_key=f"usage:{sub.id}:{meter}:{period_start.isoformat()}:{total}",
                customer_id=customer,
                provider_subscription_id=sub.provider_subscription_id,
                meter=meter,
                quantity=total - reported,
                timestamp=min(clock.now(), period_end - timedelta(seconds=1)),
            )
            await provider.report_usage([record])
            await stores.usage_reports.set_reported(
                sub.workspace_id, meter, period_start, total, at=clock.now()
            )
            sent += 1
        await uow.commit()
    return sent


async def reconcile(container: ApplicationContainer) -> int:
    """Refetch every live subscription from the provider and apply it; how many changed."""
    provider = container.billing.payment_provider()
    changed, after = 0, None
    while True:
        async with container.unit_of_work() as uow:
            page = await container.billing.stores(uow.session).subscriptions.page(
                after=after, limit=100
            )
        if not page:
            return changed
        after = page[-1].id
        for sub in page:
            if sub.is_final or sub.provider != provider.name or not sub.provider_subscription_id:
                continue
            try:
                state = await provider.fetch_subscription(sub.provider_subscription_id)
                async with container.unit_of_work() as uow:
                    applied = await container.billing.service(uow=uow).apply_state(
                        state, sub.workspace_id
                    )
                    await uow.commit()
            except DomainError as error:  # one subscription's trouble stops no other
                logger.warning("reconciling %s failed: %s", sub.id, error.detail)
                continue
            if applied.version != sub.version:
                changed += 1
                container.billing.access_cache().invalidate(sub.workspace_id)


def register_billing_jobs(container: ApplicationContainer) -> None:
    registry = container.workflows.registry()
    bus = container.workflows.event_bus()
    clock = container.kernel.clock()
    settings = container.settings()

    async def apply(payload: ApplyWebhook, context: JobContext) -> None:
        await apply_stored_event(
            container, payload.provider, payload.event_id, last_attempt=context.is_last_attempt
        )

    async def usage(_payload: Tick, _context: JobContext) -> None:
        sent = await report_usage(container)
        if sent:
            logger.info("reported usage to the payment provider: %d records", sent)

    async def reconcile_job(_payload: Tick, _context: JobContext) -> None:
        changed = await reconcile(container)
        if changed:
            logger.info("reconciled %d subscriptions with the payment provider", changed)

    async def expire(_payload: Tick, _context: JobContext) -> None:
        async with container.unit_of_work() as uow:
            posted = await container.billing.ledger(uow=uow).expire(clock.now())
            await uow.commit()
        if posted:
            logger.info("expired %d credit grants", len(posted))

    async def sandbox_tick(_payload: Tick, _context: JobContext) -> None:
        if settings.payments_provider != "sandbox":
            return
        provider = container.billing.payment_provider()
        await provider.tick()
        await provider.flush_webhooks()

    async def seats(event: MemberAdded | MemberRemoved) -> None:
        async with container.unit_of_work() as uow:
            members = await SqlWorkspaceRepository(uow.session).members(
                TenantContext(event.workspace_id)
            )
            await container.billing.service(uow=uow).set_seats(
                TenantContext(event.workspace_id), len(members)
            )
            await uow.commit()
        container.billing.access_cache().invalidate(event.workspace_id)

    async def payment_failed(event: InvoicePaymentFailed) -> None:
        since = await _past_due_since(container, event.workspace_id) or event.attempted_at
        grace_end = since + timedelta(days=settings.billing_grace_days)
        await _notify(
            container,
            event.workspace_id,
            "billing.payment_failed",
            {
                "amount": format_money(event.amount_due, event.currency),
                "access_until": f"{grace_end:%Y-%m-%d}",
            },
            key=f"billing.payment_failed:{event.invoice_id}:{event.attempted_at.isoformat()}",
        )

    async def credits_low(event: CreditsLow) -> None:
        await _notify(
            container,
            event.workspace_id,
            "billing.credits_low",
            {"balance": event.balance, "threshold": event.threshold},
            key=f"billing.credits_low:{event.workspace_id}:{event.period_start.isoformat()}",
        )

    async def threshold(event: UsageThresholdReached) -> None:
        await _notify(
            container,
            event.workspace_id,
            "billing.usage_threshold",
            {
                "meter": event.meter,
                "percent": event.percent,
                "used": _number(event.value),
                "limit": event.limit,
                "limit_kind": "hard" if event.hard else "soft",
                "period_end": f"{event.period_end:%Y-%m-%d}",
            },
            key=(
                f"billing.usage_threshold:{event.workspace_id}:{event.meter}:{event.percent}:"
                f"{event.period_start.isoformat()}"
            ),
        )

    connect_sandbox(container)
    registry.register(APPLY_WEBHOOK, apply)
    registry.register(REPORT_USAGE, usage)
    registry.register(RECONCILE, reconcile_job)
    registry.register(EXPIRE_CREDITS, expire)
    registry.register(SANDBOX_TICK, sandbox_tick)
    bus.subscribe(MemberAdded, seats, name="billing.seats_on_member_added")
    bus.subscribe(MemberRemoved, seats, name="billing.seats_on_member_removed")
    bus.subscribe(InvoicePaymentFailed, payment_failed, name="billing.dunning")
    bus.subscribe(CreditsLow, credits_low, name="billing.credits_low_notice")
    bus.subscribe(UsageThresholdReached, threshold, name="billing.usage_threshold_notice")


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def format_money(amount: int, currency: str) -> str:
    """``4500, "USD"`` -> ``45.00 USD`` (two-decimal currencies; ISO 4217 minor units
    differ for a few, e.g. JPY: the catalog's amounts are minor units either way)."""
    zero_decimal = {"JPY", "KRW", "VND", "CLP", "ISK", "UGX"}
    if currency.upper() in zero_decimal:
        return f"{amount} {currency.upper()}"
    return f"{amount / 100:.2f} {currency.upper()}"


async def _past_due_since(container: ApplicationContainer, workspace_id: str) -> datetime | None:
    async with container.unit_of_work() as uow:
        sub = await container.billing.stores(uow.session).subscriptions.current(
            TenantContext(workspace_id)
        )
    return sub.past_due_since if sub is not None else None


async def _notify(
    container: ApplicationContainer,
    workspace_id: str,
    type_: str,
    data: dict[str, object],
    *,
    key: str,
) -> None:
    settings = container.settings()
    billing_url = f"{settings.effective_public_url}/workspaces/{workspace_id}/billing"
    async with container.unit_of_work() as uow:
        name, recipients = await billing_recipients(uow.session, workspace_id)
        requests = [
            NotificationRequest(
                type=type_,
                recipient=recipient,
                data={"workspace_name": name, "billing_url": billing_url, **data},
                idempotency_key=f"{key}:{recipient.user_id}",
            )
            for recipient in recipients
        ]
        if requests:
            await container.notifications.notifier(uow=uow).notify_many(requests)
        await uow.commit()
