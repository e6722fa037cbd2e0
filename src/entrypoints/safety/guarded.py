"""Provider adapters behind their circuit breakers, without touching the adapters.

``BreakerPaymentProvider`` wraps whichever ``PaymentProvider`` the settings select and
runs every call to the provider through the ``payments`` breaker; ``BreakerEmailTransport``
does the same for the email transport (Resend) with the ``email`` breaker. The
composition root (containers/billing.py, containers/notifications.py) wraps them.

An open breaker refuses with an error that is both a ``CircuitOpenError`` (problem type
``safety/circuit-open``, 503 with Retry-After) and the port's own "unavailable" error,
so every caller that already handles a provider outage (the jobs retry later, the
delivery job gives up on its last attempt, the API answers 503) handles an open breaker
the same way, with no change.

Anything else of the adapter (the sandbox's back office: ``tick``, ``settle``, ...) is
reached through the wrapper unguarded, and ``isinstance`` checks on the wrapper see
the adapter's class.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from core.billing.errors import PaymentProviderUnavailableError
from core.billing.payments import (
    BillingWebhook,
    CheckoutRequest,
    CheckoutSession,
    PaymentProvider,
    PortalSession,
    PriceSpec,
    ProviderInvoice,
    ProviderPrice,
    SubscriptionState,
    UsageRecord,
)
from core.kernel.events import AwareDatetime
from core.notifications import EmailMessage, EmailProviderUnavailableError, EmailTransport
from core.safety.breaker_registry import BreakerRegistry
from core.safety.breakers import CircuitBreaker, CircuitOpenError

PAYMENTS = "payments"
EMAIL = "email"


class PaymentsCircuitOpenError(CircuitOpenError, PaymentProviderUnavailableError):
    """The ``payments`` breaker refused: handled wherever the provider being
    unavailable is."""


class EmailCircuitOpenError(CircuitOpenError, EmailProviderUnavailableError):
    """The ``email`` breaker refused: handled wherever the email provider being
    unavailable is."""


class _Guarded:
    """Forwards what it does not guard to the adapter, and passes for it in
    ``isinstance``."""

    _inner: Any

    def __getattr__(self, name: str) -> Any:
        if name == "_inner":  # not set yet (copying): no endless lookup
            raise AttributeError(name)
        return getattr(self._inner, name)

    @property  # type: ignore[misc]
    def __class__(self) -> type[Any]:  # isinstance sees the adapter's class
        return type(self._inner)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._inner!r})"


class BreakerPaymentProvider(_Guarded):
    """A ``PaymentProvider`` whose calls go through the ``payments`` breaker.
    ``PaymentProviderUnavailableError`` (and timeouts, refused connections) count as
    failures; ``PaymentProviderRejectedError`` shows the provider answering, so it counts
    as a success. ``parse_webhook`` makes no call and is not guarded."""

    _inner: PaymentProvider

    def __init__(self, inner: PaymentProvider, breakers: BreakerRegistry) -> None:
        self._inner = inner
        self._breakers = breakers

    @property
    def breaker(self) -> CircuitBreaker:
        return self._breakers.breaker(PAYMENTS)

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        async def call() -> Any:
            return await getattr(self._inner, method)(*args, **kwargs)

        return await self.breaker.call(
            call,
            failures=(PaymentProviderUnavailableError, TimeoutError, ConnectionError),
            error=PaymentsCircuitOpenError,
        )

    @property
    def name(self) -> str:
        name: str = self._inner.name
        return name

    async def sync_prices(
        self, specs: Sequence[PriceSpec], known: Mapping[str, ProviderPrice]
    ) -> list[ProviderPrice]:
        found: list[ProviderPrice] = await self._call("sync_prices", specs, known)
        return found

    async def create_customer(
        self, workspace_id: str, *, name: str, email: str | None, idempotency_key: str
    ) -> str:
        found: str = await self._call(
            "create_customer", workspace_id, name=name, email=email, idempotency_key=idempotency_key
        )
        return found

    async def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        found: CheckoutSession = await self._call("create_checkout", request)
        return found

    async def create_portal(self, customer_id: str, *, return_url: str) -> PortalSession:
        found: PortalSession = await self._call("create_portal", customer_id, return_url=return_url)
        return found

    async def fetch_subscription(self, provider_subscription_id: str) -> SubscriptionState:
        found: SubscriptionState = await self._call("fetch_subscription", provider_subscription_id)
        return found

    async def change_plan(
        self,
        provider_subscription_id: str,
        price: ProviderPrice,
        *,
        quantity: int,
        prorate: bool,
        idempotency_key: str,
    ) -> SubscriptionState:
        found: SubscriptionState = await self._call(
            "change_plan",
            provider_subscription_id,
            price,
            quantity=quantity,
            prorate=prorate,
            idempotency_key=idempotency_key,
        )
        return found

    async def cancel(
        self, provider_subscription_id: str, *, at_period_end: bool, idempotency_key: str
    ) -> SubscriptionState:
        found: SubscriptionState = await self._call(
            "cancel",
            provider_subscription_id,
            at_period_end=at_period_end,
            idempotency_key=idempotency_key,
        )
        return found

    async def resume(
        self, provider_subscription_id: str, *, idempotency_key: str
    ) -> SubscriptionState:
        found: SubscriptionState = await self._call(
            "resume", provider_subscription_id, idempotency_key=idempotency_key
        )
        return found

    async def set_quantity(
        self, provider_subscription_id: str, quantity: int, *, idempotency_key: str
    ) -> SubscriptionState:
        found: SubscriptionState = await self._call(
            "set_quantity", provider_subscription_id, quantity, idempotency_key=idempotency_key
        )
        return found

    async def report_usage(self, records: Sequence[UsageRecord]) -> None:
        await self._call("report_usage", records)

    async def list_invoices(self, customer_id: str, *, limit: int = 100) -> list[ProviderInvoice]:
        found: list[ProviderInvoice] = await self._call("list_invoices", customer_id, limit=limit)
        return found

    def parse_webhook(
        self, headers: Mapping[str, str], body: bytes, *, now: AwareDatetime
    ) -> BillingWebhook:
        return self._inner.parse_webhook(headers, body, now=now)


class BreakerEmailTransport(_Guarded):
    """An ``EmailTransport`` whose sends go through the ``email`` breaker.
    ``EmailProviderUnavailableError`` (and timeouts, refused connections) count as
    failures; a refused message (``EmailRejectedError``) counts as a success."""

    _inner: EmailTransport

    def __init__(self, inner: EmailTransport, breakers: BreakerRegistry) -> None:
        self._inner = inner
        self._breakers = breakers

    @property
    def breaker(self) -> CircuitBreaker:
        return self._breakers.breaker(EMAIL)

    @property
    def provider(self) -> str:
        return self._inner.provider

    async def deliver(self, message: EmailMessage) -> str:
        return await self.breaker.call(
            lambda: self._inner.deliver(message),
            failures=(EmailProviderUnavailableError, TimeoutError, ConnectionError),
            error=EmailCircuitOpenError,
        )

    async def deliver_batch(self, messages: Sequence[EmailMessage]) -> list[str]:
        return await self.breaker.call(
            lambda: self._inner.deliver_batch(messages),
            failures=(EmailProviderUnavailableError, TimeoutError, ConnectionError),
            error=EmailCircuitOpenError,
        )


def guard_payments(provider: PaymentProvider, breakers: BreakerRegistry) -> PaymentProvider:
    """The selected payment provider behind the ``payments`` breaker."""
    return BreakerPaymentProvider(provider, breakers)


def guard_email(
    transport: EmailTransport | None, breakers: BreakerRegistry
) -> EmailTransport | None:
    """The selected email transport behind the ``email`` breaker (``None``, the outbox,
    calls no provider and stays as it is)."""
    return None if transport is None else BreakerEmailTransport(transport, breakers)
