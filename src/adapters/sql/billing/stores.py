"""Billing's smaller stores on SQL (SQLite and PostgreSQL): customers, provider prices,
invoices, webhook events, alerts and usage reports. Each works in the transaction of the
``AsyncSession`` it is given and never commits.

What must happen once is one statement the database decides, so two writers at the same
moment cannot both win: ``INSERT … ON CONFLICT DO NOTHING RETURNING …`` for customers,
webhook events and alerts (a row back: this call stored it), ``INSERT … ON CONFLICT DO
UPDATE … WHERE stored.provider_version < new.provider_version RETURNING …`` for
invoices, ``ON CONFLICT DO UPDATE`` for usage reports. SQLite has both clauses since
3.24 and ``RETURNING`` since 3.35.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

import msgspec
from sqlalchemy import Table, and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.billing.store_tables import (
    alerts,
    customers,
    invoices,
    provider_prices,
    usage_reports,
    webhook_events,
)
from core.billing.payments import ProviderPrice
from core.billing.ports import Invoice, StoredWebhookEvent, WebhookEventStatus
from core.kernel import Clock, SystemClock, TenantContext

_C, _P, _I, _W = customers.c, provider_prices.c, invoices.c, webhook_events.c
_A, _R = alerts.c, usage_reports.c
T = TypeVar("T")


def _values(struct: msgspec.Struct) -> dict[str, Any]:
    return {
        name: value.value if isinstance(value, enum.Enum) else value
        for name, value in msgspec.structs.asdict(struct).items()
    }


def _struct(row: Any, type_: type[T]) -> T:
    """The row as a ``type_`` (msgspec checks the values, makes the enums)."""
    return msgspec.convert({str(name): value for name, value in row._asdict().items()}, type_)


class _SqlStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def _insert(self, table: Table) -> Any:
        """The dialect's ``INSERT`` (with ``on_conflict_…``)."""
        dialect = self._session.get_bind().dialect.name
        if dialect == "postgresql":
            return postgresql.insert(table)
        if dialect == "sqlite":
            return sqlite.insert(table)
        raise NotImplementedError(f"billing supports SQLite and PostgreSQL, not {dialect}")

    async def _stored(self, statement: Any) -> bool:
        """Whether ``statement`` (an insert or upsert ``RETURNING`` a column) wrote a row."""
        return (await self._session.execute(statement)).first() is not None


class SqlCustomerStore(_SqlStore):
    """``CustomerStore`` on ``billing_customers``. A different mapping for a workspace or
    a customer id already mapped is refused (``ValueError``); the first one stays."""

    async def customer_id(self, provider: str, workspace_id: str) -> str | None:
        query = select(_C.customer_id).where(
            _C.provider == provider, _C.workspace_id == workspace_id
        )
        found: str | None = await self._session.scalar(query)
        return found

    async def workspace_id(self, provider: str, customer_id: str) -> str | None:
        query = select(_C.workspace_id).where(
            _C.provider == provider, _C.customer_id == customer_id
        )
        found: str | None = await self._session.scalar(query)
        return found

    async def add(self, provider: str, workspace_id: str, customer_id: str) -> None:
        statement = (
            self._insert(customers)
            .values(provider=provider, workspace_id=workspace_id, customer_id=customer_id)
            .on_conflict_do_nothing()
            .returning(_C.customer_id)
        )
        if await self._stored(statement):
            return
        if await self.customer_id(provider, workspace_id) != customer_id:
            raise ValueError(
                f"{provider}: workspace {workspace_id} or customer {customer_id} "
                "is already mapped otherwise"
            )


def _price(row: Any) -> ProviderPrice:
    return ProviderPrice(
        provider=row.provider,
        key=row.key,
        provider_product_id=row.provider_product_id,
        provider_price_id=row.provider_price_id,
        fingerprint=row.fingerprint,
    )


class SqlPriceStore(_SqlStore):
    """``PriceStore`` on ``billing_provider_prices``: a key's current price has no
    ``replaced_at``; ``save`` stamps the ones it replaces with the clock's time."""

    def __init__(self, session: AsyncSession, clock: Clock | None = None) -> None:
        super().__init__(session)
        self._clock = clock or SystemClock()

    async def all(self, provider: str) -> dict[str, ProviderPrice]:
        query = select(provider_prices).where(_P.provider == provider, _P.replaced_at.is_(None))
        return {row.key: _price(row) for row in await self._session.execute(query)}

    async def by_provider_price_id(self, provider: str, price_id: str) -> ProviderPrice | None:
        query = select(provider_prices).where(
            _P.provider == provider, _P.provider_price_id == price_id
        )
        row = (await self._session.execute(query)).first()
        return None if row is None else _price(row)

    async def save(self, prices: Sequence[ProviderPrice]) -> None:
        now = self._clock.now()
        for price in prices:
            await self._session.execute(
                update(provider_prices)
                .where(
                    _P.provider == price.provider,
                    _P.key == price.key,
                    _P.replaced_at.is_(None),
                    _P.provider_price_id != price.provider_price_id,
                )
                .values(replaced_at=now)
            )
            insert = self._insert(provider_prices).values(
                **msgspec.structs.asdict(price), created_at=now, replaced_at=None
            )
            await self._session.execute(
                insert.on_conflict_do_update(
                    index_elements=["provider", "provider_price_id"],
                    set_={
                        "key": insert.excluded.key,
                        "provider_product_id": insert.excluded.provider_product_id,
                        "fingerprint": insert.excluded.fingerprint,
                        "replaced_at": None,
                    },
                )
            )


class SqlInvoiceStore(_SqlStore):
    """``InvoiceStore`` on ``billing_invoices``; ``upsert`` is one statement."""

    async def upsert(self, invoice: Invoice) -> bool:
        insert = self._insert(invoices).values(_values(invoice))
        changes = {
            column.name: insert.excluded[column.name]
            for column in invoices.c
            if column.name not in ("provider", "provider_invoice_id")
        }
        return await self._stored(
            insert.on_conflict_do_update(
                index_elements=["provider", "provider_invoice_id"],
                set_=changes,
                where=_I.provider_version < insert.excluded.provider_version,
            ).returning(_I.provider_invoice_id)
        )

    async def page(
        self, tenant: TenantContext, *, before: str | None = None, limit: int = 50
    ) -> list[Invoice]:
        mine = _I.workspace_id == tenant.workspace_id
        query = (
            select(invoices)
            .where(mine)
            .order_by(_I.issued_at.desc(), _I.provider_invoice_id.desc())
            .limit(limit)
        )
        if before is not None:
            cursor = (
                select(_I.issued_at).where(mine, _I.provider_invoice_id == before).limit(1)
            ).scalar_subquery()
            query = query.where(
                or_(
                    _I.issued_at < cursor,
                    and_(_I.issued_at == cursor, _I.provider_invoice_id < before),
                )
            )
        return [_struct(row, Invoice) for row in await self._session.execute(query)]


class SqlWebhookEventStore(_SqlStore):
    """``WebhookEventStore`` on ``billing_webhook_events``, keyed by ``(provider,
    event_id)``: ``record`` inserts or does nothing."""

    async def record(self, event: StoredWebhookEvent) -> bool:
        return await self._stored(
            self._insert(webhook_events)
            .values(_values(event))
            .on_conflict_do_nothing(index_elements=["provider", "event_id"])
            .returning(_W.event_id)
        )

    async def get(self, provider: str, event_id: str) -> StoredWebhookEvent | None:
        query = select(webhook_events).where(_W.provider == provider, _W.event_id == event_id)
        row = (await self._session.execute(query)).first()
        return None if row is None else _webhook_event(row)

    async def mark(
        self,
        provider: str,
        event_id: str,
        status: WebhookEventStatus,
        *,
        at: datetime,
        detail: str = "",
    ) -> None:
        status = WebhookEventStatus(status)
        changes: dict[str, Any] = {"status": status.value, "detail": detail}
        if status is not WebhookEventStatus.PENDING:  # a replay is no attempt
            changes.update(attempts=_W.attempts + 1, processed_at=at)
        await self._session.execute(
            update(webhook_events)
            .where(_W.provider == provider, _W.event_id == event_id)
            .values(changes)
        )

    async def page(
        self,
        *,
        provider: str | None = None,
        status: WebhookEventStatus | None = None,
        type: str | None = None,
        workspace_id: str | None = None,
        before: tuple[datetime, str] | None = None,
        limit: int = 50,
    ) -> list[StoredWebhookEvent]:
        query = (
            select(webhook_events).order_by(_W.received_at.desc(), _W.event_id.desc()).limit(limit)
        )
        if provider is not None:
            query = query.where(_W.provider == provider)
        if status is not None:
            query = query.where(_W.status == WebhookEventStatus(status).value)
        if type is not None:
            query = query.where(_W.type == type)
        if workspace_id is not None:
            query = query.where(_W.workspace_id == workspace_id)
        if before is not None:
            received_at, event_id = before
            query = query.where(
                or_(
                    _W.received_at < received_at,
                    and_(_W.received_at == received_at, _W.event_id < event_id),
                )
            )
        return [_webhook_event(row) for row in await self._session.execute(query)]


def _webhook_event(row: Any) -> StoredWebhookEvent:
    values = {str(name): value for name, value in row._asdict().items()}
    for name in ("body", "normalized"):  # a driver may answer a memoryview
        values[name] = bytes(values[name])
    return msgspec.convert(values, StoredWebhookEvent)


class SqlAlertLog(_SqlStore):
    """``AlertLog`` on ``billing_alerts``: the primary key is the "first time"."""

    async def first(
        self, workspace_id: str, alert: str, period_start: datetime, *, at: datetime
    ) -> bool:
        return await self._stored(
            self._insert(alerts)
            .values(workspace_id=workspace_id, alert=alert, period_start=period_start, raised_at=at)
            .on_conflict_do_nothing(index_elements=["workspace_id", "alert", "period_start"])
            .returning(_A.alert)
        )


class SqlUsageReportLog(_SqlStore):
    """``UsageReportLog`` on ``billing_usage_reports`` (0 until something is reported)."""

    async def reported(self, workspace_id: str, meter: str, period_start: datetime) -> int:
        query = select(_R.quantity).where(
            _R.workspace_id == workspace_id, _R.meter == meter, _R.period_start == period_start
        )
        quantity = await self._session.scalar(query)
        return 0 if quantity is None else int(quantity)

    async def set_reported(
        self,
        workspace_id: str,
        meter: str,
        period_start: datetime,
        quantity: int,
        *,
        at: datetime,
    ) -> None:
        insert = self._insert(usage_reports).values(
            workspace_id=workspace_id,
            meter=meter,
            period_start=period_start,
            quantity=quantity,
            updated_at=at,
        )
        await self._session.execute(
            insert.on_conflict_do_update(
                index_elements=["workspace_id", "meter", "period_start"],
                set_={
                    "quantity": insert.excluded.quantity,
                    "updated_at": insert.excluded.updated_at,
                },
            )
        )
