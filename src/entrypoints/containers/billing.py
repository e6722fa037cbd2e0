"""The billing system's wiring: the plan catalog, the payment provider the settings
select, and the use cases on a unit of work."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from dependency_injector import containers, providers
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from adapters.sql.billing.bundle import SqlBillingStores
from adapters.sql.billing.ledger import SqlLedgerStore
from adapters.sql.billing.usage import SqlUsageStore
from adapters.sql.database import create_engine, create_session_factory, is_sqlite
from adapters.sql.uow import SqlUnitOfWork
from core.billing import Catalog, CreditLedger, UsageService, load_catalog
from core.billing.alerts import Alerts
from core.billing.entitlements import AccessCache, EntitlementService
from core.billing.payments import PaymentProvider
from core.billing.service import BillingService
from core.billing.webhooks import WebhookProcessor
from core.kernel import Clock, IdGenerator
from core.safety.breaker_registry import BreakerRegistry
from entrypoints.safety.guarded import guard_payments
from entrypoints.settings import Settings


def _catalog(settings: Settings) -> Catalog:
    return load_catalog(settings.billing_plans_file or None)


def sandbox_webhook_secret(settings: Settings) -> str:
    """The sandbox signs its webhooks (Standard Webhooks) with a key derived from the
    application's secret key, so nothing needs configuring and nobody else can forge
    them. ``whsec_`` + base64 of 32 bytes, like a provider's secret."""
    key = hmac.new(
        (settings.secret_key or "ninefold-development").encode(),
        b"ninefold billing sandbox webhooks",
        hashlib.sha256,
    ).digest()
    return "whsec_" + base64.b64encode(key).decode()


class SandboxDatabase:
    """Where the sandbox keeps its state. On PostgreSQL: the app's database (its
    ``billing_sandbox_*`` tables, migrated with billing), in transactions of its own.
    On SQLite, which has one writer at a time, the sandbox's transactions would wait
    for the request's that waits for the sandbox: it keeps its state in a file of its
    own, ``billing-sandbox.db`` next to the app's, whose tables it creates on first use.
    """

    def __init__(self, settings: Settings, session_factory: async_sessionmaker[AsyncSession]):
        self._factory = session_factory
        self._engine: AsyncEngine | None = None
        self._ready = asyncio.Lock()
        self._created = False
        if is_sqlite(settings.effective_database_url):
            path = Path(settings.data_dir) / "billing-sandbox.db"
            self._engine = create_engine(f"sqlite+aiosqlite:///{path}")
            self._factory = create_session_factory(self._engine)

    @asynccontextmanager
    async def open_store(self) -> AsyncIterator[Any]:
        from adapters.sql.billing.sandbox import sql_sandbox_store

        await self._create_tables()
        async with sql_sandbox_store(self._factory) as store:
            yield store

    async def _create_tables(self) -> None:
        if self._engine is None or self._created:
            return
        from adapters.sql.billing.tables import metadata

        async with self._ready:
            if self._created:
                return
            tables = [t for t in metadata.sorted_tables if t.name.startswith("billing_sandbox_")]
            async with self._engine.begin() as connection:
                await connection.run_sync(lambda sync: metadata.create_all(sync, tables=tables))
            self._created = True

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()


def _sandbox(
    *, database: SandboxDatabase, clock: Clock, ids: IdGenerator, settings: Settings
) -> PaymentProvider:
    from adapters.sandbox import SandboxPaymentProvider

    return SandboxPaymentProvider(
        open_store=database.open_store,
        clock=clock,
        ids=ids,
        webhook_secret=sandbox_webhook_secret(settings),
        public_url=settings.effective_public_url,
    )


def _stripe(*, clock: Clock, settings: Settings) -> PaymentProvider:
    from adapters.stripe import StripePaymentProvider

    return StripePaymentProvider(
        api_key=settings.stripe_secret_key,
        webhook_secret=settings.stripe_webhook_secret,
        base_url=settings.stripe_base_url,
        clock=clock.now,
    )


def _dodo(*, clock: Clock, settings: Settings) -> PaymentProvider:
    from adapters.dodo import DodoPaymentProvider

    return DodoPaymentProvider(
        api_key=settings.dodo_api_key,
        webhook_secret=settings.dodo_webhook_secret,
        base_url=settings.dodo_base_url,
        clock=clock.now,
    )


def _ledger(*, uow: SqlUnitOfWork, clock: Clock, ids: IdGenerator) -> CreditLedger:
    return CreditLedger(SqlLedgerStore(uow.session, clock), clock, ids)


def _entitlements(
    *,
    uow: SqlUnitOfWork,
    catalog: Catalog,
    clock: Clock,
    cache: AccessCache,
    settings: Settings,
    with_usage: bool = True,
) -> EntitlementService:
    stores = SqlBillingStores(uow.session, clock)
    service = EntitlementService(
        subscriptions=stores.subscriptions,
        usage=None,
        catalog=catalog,
        clock=clock,
        grace_days=settings.billing_grace_days,
        cache=cache,
    )
    if with_usage:
        service.usage = _usage_service(uow, catalog, clock, service, settings)
    return service


def _usage_service(
    uow: SqlUnitOfWork,
    catalog: Catalog,
    clock: Clock,
    entitlements: EntitlementService,
    settings: Settings,
) -> UsageService:
    return UsageService(
        SqlUsageStore(uow.session),
        catalog.meter_specs(),
        clock,
        limits_for=entitlements.limits_for,
        lateness=timedelta(hours=settings.billing_usage_lateness_hours),
    )


def _usage(
    *, uow: SqlUnitOfWork, catalog: Catalog, clock: Clock, cache: AccessCache, settings: Settings
) -> UsageService:
    entitlements = _entitlements(
        uow=uow, catalog=catalog, clock=clock, cache=cache, settings=settings, with_usage=False
    )
    return _usage_service(uow, catalog, clock, entitlements, settings)


def _service(
    *,
    uow: SqlUnitOfWork,
    provider: PaymentProvider,
    catalog: Catalog,
    clock: Clock,
    ids: IdGenerator,
    settings: Settings,
) -> BillingService:
    return BillingService(
        stores=SqlBillingStores(uow.session, clock),
        provider=provider,
        catalog=catalog,
        ledger=_ledger(uow=uow, clock=clock, ids=ids),
        uow=uow,
        clock=clock,
        ids=ids,
        grace_days=settings.billing_grace_days,
        default_currency=settings.billing_default_currency,
    )


def _alerts(*, uow: SqlUnitOfWork, clock: Clock) -> Alerts:
    return Alerts(SqlBillingStores(uow.session, clock).alerts, uow, clock)


def _processor(*, uow: SqlUnitOfWork, service: Callable[..., BillingService]) -> WebhookProcessor:
    return WebhookProcessor(service(uow=uow), uow)


class BillingContainer(containers.DeclarativeContainer):
    """Billing: the catalog (read once), the payment provider
    (``NINEFOLD_PAYMENTS_PROVIDER``: the embedded sandbox, Stripe or Dodo Payments)."""

    settings = providers.Dependency(instance_of=Settings)
    kernel = providers.DependenciesContainer()
    database = providers.DependenciesContainer()

    catalog = providers.Singleton(_catalog, settings=settings)
    sandbox_database = providers.Singleton(
        SandboxDatabase, settings=settings, session_factory=database.session_factory
    )
    # The circuit breakers of this process (safety): every provider call goes through
    # the "payments" breaker (entrypoints/safety/guarded.py).
    breakers = providers.Dependency(instance_of=BreakerRegistry)
    payment_provider = providers.Singleton(
        guard_payments,
        provider=providers.Selector(
            settings.provided.payments_provider,
            sandbox=providers.Singleton(
                _sandbox,
                database=sandbox_database,
                clock=kernel.clock,
                ids=kernel.ids,
                settings=settings,
            ),
            stripe=providers.Singleton(_stripe, clock=kernel.clock, settings=settings),
            dodo=providers.Singleton(_dodo, clock=kernel.clock, settings=settings),
        ),
        breakers=breakers,
    )
    # Each workspace's access, for a few seconds (core/billing/entitlements.py).
    access_cache = providers.Singleton(AccessCache)

    # The use cases, on the caller's unit of work: ``container.billing.service(uow=uow)``.
    stores = providers.Factory(SqlBillingStores, clock=kernel.clock)  # (session)
    ledger = providers.Factory(_ledger, clock=kernel.clock, ids=kernel.ids)
    usage = providers.Factory(
        _usage, catalog=catalog, clock=kernel.clock, cache=access_cache, settings=settings
    )
    entitlements = providers.Factory(
        _entitlements, catalog=catalog, clock=kernel.clock, cache=access_cache, settings=settings
    )
    service = providers.Factory(
        _service,
        provider=payment_provider,
        catalog=catalog,
        clock=kernel.clock,
        ids=kernel.ids,
        settings=settings,
    )
    alerts = providers.Factory(_alerts, clock=kernel.clock)
    webhook_processor = providers.Factory(_processor, service=service.provider)
