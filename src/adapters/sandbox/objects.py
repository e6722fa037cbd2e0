"""The sandbox's constants and the pure functions the processor is made of: when a
subscription is due, its records as the port's structs (``SubscriptionState``,
``ProviderInvoice``, ``OneOffPayment``, ``ProviderPrice``) and as webhook data."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any, Final

import msgspec

from adapters.sandbox import wire
from adapters.sandbox.model import (
    InvoiceLine,
    SandboxCheckout,
    SandboxCustomer,
    SandboxInvoice,
    SandboxPayment,
    SandboxPrice,
    SandboxSubscription,
)
from core.billing.errors import PaymentProviderRejectedError
from core.billing.payments import (
    OneOffPayment,
    ProviderInvoice,
    ProviderPrice,
    SubscriptionState,
)
from core.billing.subscriptions import SubscriptionStatus

CHECKOUT_LIFETIME: Final = timedelta(hours=24)
RETRY_DAYS: Final = (1, 3, 5)  # after the first failure; unpaid when the last one fails
MAX_USAGE_RECORDS: Final = 1_000
MAX_TRIAL_DAYS: Final = 730
MAX_STEPS: Final = 1_000  # per subscription and tick: years of missed monthly periods

_S = SubscriptionStatus
FINAL: Final = frozenset({_S.CANCELED, _S.INCOMPLETE_EXPIRED})
CHARGEABLE: Final = frozenset({_S.ACTIVE, _S.TRIALING})
OWING: Final = frozenset({_S.PAST_DUE, _S.UNPAID})


class TickReport(msgspec.Struct, kw_only=True):
    """What one ``tick`` did."""

    checkouts_expired: int = 0
    renewed: int = 0
    payments_failed: int = 0
    payments_recovered: int = 0
    became_unpaid: int = 0
    ended: int = 0

    def summary(self) -> str:
        fields = msgspec.structs.asdict(self)
        done = [f"{count} {name.replace('_', ' ')}" for name, count in fields.items() if count]
        return ", ".join(done) or "nothing due"


def rejected(detail: str) -> PaymentProviderRejectedError:
    return PaymentProviderRejectedError(f"sandbox: {detail}")


def capability_id(prefix: str) -> str:
    """An id that names a page needing no sign-in: 128 random bits."""
    return f"{prefix}_{secrets.token_hex(16)}"


def due_at(sub: SandboxSubscription) -> datetime | None:
    """When ``tick`` must act on ``sub`` next."""
    ending = sub.current_period_end if sub.cancel_at_period_end else None
    if sub.status in CHARGEABLE:
        return sub.current_period_end
    if sub.status is _S.PAST_DUE:
        moments = [m for m in (sub.next_retry_at, ending) if m is not None]
        return min(moments) if moments else None
    if sub.status is _S.UNPAID:
        return ending
    return None


def subscription_state(sub: SandboxSubscription) -> SubscriptionState:
    return SubscriptionState(
        provider_subscription_id=sub.id,
        customer_id=sub.customer_id,
        workspace_id=sub.workspace_id,
        status=sub.status,
        price_id=sub.price_id,
        currency=sub.currency,
        quantity=sub.quantity,
        current_period_start=sub.current_period_start,
        current_period_end=sub.current_period_end,
        trial_end=sub.trial_end,
        cancel_at_period_end=sub.cancel_at_period_end,
        canceled_at=sub.canceled_at,
        ended_at=sub.ended_at,
        past_due_since=sub.past_due_since,
        provider_version=sub.version,
    )


def invoice_url(public_url: str, invoice_id: str) -> str:
    return f"{public_url}/billing/sandbox/invoices/{invoice_id}"


def provider_invoice(invoice: SandboxInvoice, public_url: str) -> ProviderInvoice:
    url = invoice_url(public_url, invoice.id)
    return ProviderInvoice(
        provider_invoice_id=invoice.id,
        customer_id=invoice.customer_id,
        workspace_id=invoice.workspace_id,
        provider_subscription_id=invoice.subscription_id,
        number=invoice.number,
        status=invoice.status,
        currency=invoice.currency,
        subtotal=invoice.subtotal,
        total=invoice.total,
        amount_paid=invoice.amount_paid,
        amount_due=invoice.amount_due,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        issued_at=invoice.issued_at,
        hosted_url=url,
        pdf_url=url,
        provider_version=invoice.version,
    )


def one_off_payment(payment: SandboxPayment) -> OneOffPayment:
    return OneOffPayment(
        provider_payment_id=payment.id,
        customer_id=payment.customer_id,
        workspace_id=payment.workspace_id,
        price_id=payment.price_id,
        quantity=payment.quantity,
        amount=payment.amount,
        currency=payment.currency,
        paid_at=payment.paid_at,
    )


def fraction_left(sub: SandboxSubscription, now: datetime) -> float:
    length = (sub.current_period_end - sub.current_period_start).total_seconds()
    if length <= 0:
        return 0.0
    left = (sub.current_period_end - now).total_seconds() / length
    return min(1.0, max(0.0, left))


def provider_price(price: SandboxPrice) -> ProviderPrice:
    return ProviderPrice(
        provider=wire.PROVIDER,
        key=price.key,
        provider_product_id=price.product_id,
        provider_price_id=price.id,
        fingerprint=price.fingerprint,
    )


def invoice_line(name: str, unit_amount: int, quantity: int) -> InvoiceLine:
    return InvoiceLine(
        description=f"{name} x {quantity}" if quantity != 1 else name,
        quantity=quantity,
        unit_amount=unit_amount,
        amount=unit_amount * quantity,
    )


def customer_data(customer: SandboxCustomer) -> dict[str, Any]:
    return {
        "object": "customer",
        "id": customer.id,
        "workspace_id": customer.workspace_id,
        "name": customer.name,
        "email": customer.email,
        "card_works": customer.card_works,
    }


def checkout_data(checkout: SandboxCheckout) -> dict[str, Any]:
    return {
        "object": "checkout",
        "id": checkout.id,
        "status": checkout.status.value,
        "mode": checkout.mode,
        "customer_id": checkout.customer_id,
        "workspace_id": checkout.workspace_id,
        "price_id": checkout.price_id,
        "quantity": checkout.quantity,
        "subscription_id": checkout.subscription_id,
        "payment_id": checkout.payment_id,
        "metadata": checkout.metadata,
    }
