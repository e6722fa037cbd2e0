"""Dodo Payments objects (as JSON objects) read as the port's neutral values.

The same functions read what the API answers (the SDK's models, dumped with
``to_dict(mode="json")``) and what a webhook carries (its ``data``), since Dodo sends the
same ``SubscriptionResponse`` / ``PaymentResponse`` shapes in both.

Subscription statuses (Dodo ``status`` -> ``SubscriptionStatus``):

============  ======================  ==================================================
Dodo          ours                    why
============  ======================  ==================================================
pending       incomplete              created by a checkout, first payment not done
active        active / trialing       trialing while ``created_at + trial_period_days``
                                      is after the view's time
past_due      past_due                a renewal failed; Dodo retries in a grace period
on_hold       past_due                a renewal failed; Dodo holds the subscription
                                      until the payment method is updated (it is not
                                      given up: recovering makes it active again)
paused        paused
cancelled     canceled                ``cancelled_at`` is both canceled_at and ended_at
expired       canceled                the subscription period ran out (``expires_at``)
failed        incomplete_expired      the first payment (mandate) failed: never paid
============  ======================  ==================================================

A status Dodo adds later is read as ``incomplete`` (no access is granted by mistake).

Fields: ``product_id`` is our ``price_id`` (one Dodo product per price, see
``payments.py``); ``previous_billing_date`` / ``next_billing_date`` are the current
period; ``cancel_at_next_billing_date`` is ``cancel_at_period_end``; ``workspace_id``
comes from ``metadata.workspace_id`` (set on the checkout, which Dodo copies onto the
subscription and its payments). Dodo does not say when a failing payment first failed,
so ``past_due_since`` stays ``None``.

Invoices: Dodo has no invoice object apart from the payment (its PDF is served per
payment at ``GET /invoices/payments/{payment_id}``), so one payment is one
``ProviderInvoice``: ``provider_invoice_id`` = ``payment_id``, ``number`` = Dodo's
``invoice_id``, status ``succeeded`` -> paid, ``failed`` / ``cancelled`` -> void (every
retry of a failed renewal is a new Dodo payment, so a failed attempt is never paid
later; the webhook says ``payment_failed``), anything else (``processing``,
``requires_*``) -> open. ``total`` = ``total_amount``, ``tax`` = ``tax`` (0 when
absent), ``subtotal`` = total - tax; the period is the payment's ``service_periods``
entry for its subscription; ``pdf_url`` is the payment's ``invoice_url`` when Dodo
gives one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from core.billing.payments import (
    InvoiceStatus,
    OneOffPayment,
    ProviderInvoice,
    SubscriptionState,
)
from core.billing.subscriptions import SubscriptionStatus

WORKSPACE_KEY: Final = "workspace_id"

STATUSES: Final[Mapping[str, SubscriptionStatus]] = {
    "pending": SubscriptionStatus.INCOMPLETE,
    "active": SubscriptionStatus.ACTIVE,
    "past_due": SubscriptionStatus.PAST_DUE,
    "on_hold": SubscriptionStatus.PAST_DUE,
    "paused": SubscriptionStatus.PAUSED,
    "cancelled": SubscriptionStatus.CANCELED,
    "expired": SubscriptionStatus.CANCELED,
    "failed": SubscriptionStatus.INCOMPLETE_EXPIRED,
}
_PAYMENT_STATUSES: Final[Mapping[str, InvoiceStatus]] = {
    "succeeded": InvoiceStatus.PAID,
    "failed": InvoiceStatus.VOID,
    "cancelled": InvoiceStatus.VOID,
}


class UnreadableObjectError(ValueError):
    """A Dodo object without a field we need, or with one of the wrong type."""


def version_of(at: datetime) -> int:
    """A ``provider_version``: the instant in microseconds since the Unix epoch."""
    delta = at.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def subscription_state(data: Mapping[str, Any], *, version: int, at: datetime) -> SubscriptionState:
    """A Dodo subscription as seen at ``at`` (for the trial), with ``version``."""
    dodo_status = _text(data, "status")
    status = STATUSES.get(dodo_status, SubscriptionStatus.INCOMPLETE)
    created_at = instant(data.get("created_at"))
    trial_days = data.get("trial_period_days") or 0
    trial_end = None
    if isinstance(trial_days, int) and trial_days > 0 and created_at is not None:
        trial_end = created_at + timedelta(days=trial_days)
        if status is SubscriptionStatus.ACTIVE and trial_end > at:
            status = SubscriptionStatus.TRIALING
    cancelled_at = instant(data.get("cancelled_at"))
    ended_at = None
    if dodo_status == "cancelled":
        ended_at = cancelled_at or at
    elif dodo_status == "expired":
        ended_at = instant(data.get("expires_at")) or at
    quantity = data.get("quantity", 1)
    if not isinstance(quantity, int) or isinstance(quantity, bool):
        raise UnreadableObjectError("subscription.quantity is not an integer")
    return SubscriptionState(
        provider_subscription_id=_text(data, "subscription_id"),
        customer_id=_customer_id(data),
        workspace_id=workspace_of(data),
        status=status,
        price_id=_text(data, "product_id"),
        currency=_text(data, "currency").upper(),
        quantity=quantity,
        current_period_start=instant(data.get("previous_billing_date")),
        current_period_end=instant(data.get("next_billing_date")),
        trial_end=trial_end,
        cancel_at_period_end=data.get("cancel_at_next_billing_date") is True,
        canceled_at=cancelled_at if dodo_status in ("cancelled", "expired") else None,
        ended_at=ended_at,
        provider_version=version,
    )


def subscription_of(payment: Mapping[str, Any]) -> str | None:
    """The subscription a payment charges, if any (``subscription_id``, else the first
    of ``subscription_ids``)."""
    sub_id = payment.get("subscription_id")
    if isinstance(sub_id, str) and sub_id:
        return sub_id
    ids = payment.get("subscription_ids")
    if isinstance(ids, list) and ids and isinstance(ids[0], str):
        return ids[0]
    return None


def invoice(payment: Mapping[str, Any], *, version: int) -> ProviderInvoice:
    """A Dodo payment read as the invoice it settles (see the module's notes)."""
    status = _PAYMENT_STATUSES.get(str(payment.get("status") or ""), InvoiceStatus.OPEN)
    total = _amount(payment, "total_amount")
    tax = payment.get("tax") or 0
    if not isinstance(tax, int):
        raise UnreadableObjectError("payment.tax is not an integer")
    sub_id = subscription_of(payment)
    start = end = None
    periods = payment.get("service_periods")
    if isinstance(periods, list):
        for period in periods:
            if isinstance(period, dict) and period.get("subscription_id") in (sub_id, None):
                start, end = instant(period.get("starts_at")), instant(period.get("ends_at"))
                break
    issued_at = instant(payment.get("created_at"))
    if issued_at is None:
        raise UnreadableObjectError("payment.created_at is missing")
    number = payment.get("invoice_id")
    pdf_url = payment.get("invoice_url")
    return ProviderInvoice(
        provider_invoice_id=_text(payment, "payment_id"),
        customer_id=_customer_id(payment),
        workspace_id=workspace_of(payment),
        provider_subscription_id=sub_id,
        number=number if isinstance(number, str) and number else None,
        status=status,
        currency=_text(payment, "currency").upper(),
        subtotal=total - tax,
        tax=tax,
        total=total,
        amount_paid=total if status is InvoiceStatus.PAID else 0,
        amount_due=total if status is InvoiceStatus.OPEN else 0,
        period_start=start,
        period_end=end,
        issued_at=issued_at,
        pdf_url=pdf_url if isinstance(pdf_url, str) and pdf_url else None,
        provider_version=version,
    )


def one_off_payment(payment: Mapping[str, Any]) -> OneOffPayment:
    """A paid one-off purchase: the first line of the payment's ``product_cart``."""
    cart = payment.get("product_cart")
    if not isinstance(cart, list) or not cart or not isinstance(cart[0], dict):
        raise UnreadableObjectError("payment.product_cart is missing")
    line = cart[0]
    quantity = line.get("quantity", 1)
    if not isinstance(quantity, int):
        raise UnreadableObjectError("payment.product_cart[0].quantity is not an integer")
    paid_at = instant(payment.get("updated_at")) or instant(payment.get("created_at"))
    if paid_at is None:
        raise UnreadableObjectError("payment.created_at is missing")
    return OneOffPayment(
        provider_payment_id=_text(payment, "payment_id"),
        customer_id=_customer_id(payment),
        workspace_id=workspace_of(payment),
        price_id=_text(line, "product_id"),
        quantity=quantity,
        amount=_amount(payment, "total_amount"),
        currency=_text(payment, "currency").upper(),
        paid_at=paid_at,
    )


def workspace_of(data: Mapping[str, Any]) -> str | None:
    metadata = data.get("metadata")
    if isinstance(metadata, dict):
        value = metadata.get(WORKSPACE_KEY)
        if isinstance(value, str) and value:
            return value
    return None


def instant(value: Any) -> datetime | None:
    """An ISO 8601 timestamp (or a datetime) as UTC; naive ones are taken as UTC."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if parsed.utcoffset() is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _customer_id(data: Mapping[str, Any]) -> str:
    customer = data.get("customer")
    if isinstance(customer, dict):
        return _text(customer, "customer_id")
    return _text(data, "customer_id")


def _text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise UnreadableObjectError(f"`{name}` is missing or not a string")
    return value


def _amount(data: Mapping[str, Any], name: str) -> int:
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise UnreadableObjectError(f"`{name}` is not an integer amount")
    return value
