"""The billing system's wiring: the plan catalog, the payment provider the settings
select, and the use cases on a unit of work."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import TYPE_CHECKING

from dependency_injector import containers, providers
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.billing import Catalog, load_catalog
from core.kernel import Clock, IdGenerator
from entrypoints.settings import Settings

if TYPE_CHECKING:
    from core.billing.payments import PaymentProvider


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


def _sandbox(
    *,
    session_factory: async_sessionmaker[AsyncSession],
    clock: Clock,
    ids: IdGenerator,
    settings: Settings,
) -> PaymentProvider:
    from adapters.sandbox import SandboxPaymentProvider
    from adapters.sql.billing.sandbox import sql_sandbox_store

    return SandboxPaymentProvider(
        open_store=lambda: sql_sandbox_store(session_factory),
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


class BillingContainer(containers.DeclarativeContainer):
    """Billing: the catalog (read once), the payment provider
    (``NINEFOLD_PAYMENTS_PROVIDER``: the embedded sandbox, Stripe or Dodo Payments)."""

    settings = providers.Dependency(instance_of=Settings)
    kernel = providers.DependenciesContainer()
    database = providers.DependenciesContainer()

    catalog = providers.Singleton(_catalog, settings=settings)
    payment_provider = providers.Selector(
        settings.provided.payments_provider,
        sandbox=providers.Singleton(
            _sandbox,
            session_factory=database.session_factory,
            clock=kernel.clock,
            ids=kernel.ids,
            settings=settings,
        ),
        stripe=providers.Singleton(_stripe, clock=kernel.clock, settings=settings),
        dodo=providers.Singleton(_dodo, clock=kernel.clock, settings=settings),
    )
