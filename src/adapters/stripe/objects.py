"""Reading Stripe's objects as the port's neutral values.

The same functions read an event's ``data.object`` (webhook JSON) and an API answer
(the SDK's ``StripeObject``, turned into plain dicts with ``to_dict()``), so a
subscription looks the same whichever way it arrived.

Subscriptions (``SubscriptionState``):

- ``status``: Stripe's eight statuses are ours, name for name (``incomplete``,
  ``incomplete_expired``, ``trialing``, ``active``, ``past_due``, ``unpaid``,
  ``paused``, ``canceled``); another one is unreadable (``UnreadableObjectError``).
- ``price_id`` and ``quantity``: the first subscription item (we create one-item
  subscriptions; metered items added by hand in the dashboard come after it).
- the period: the item's ``current_period_start``/``_end`` (API versions from
  2025-03-31 keep them on the item) or else the subscription's (older versions).
- ``workspace_id``: ``metadata.workspace_id`` (set through the checkout's
  ``subscription_data.metadata``).
- ``cancel_at_period_end``: Stripe's flag, or a ``cancel_at`` equal to the period's end
  (newer billing-portal cancellations schedule that way).
- ``past_due_since``: Stripe does not say; left ``None``.

Invoices (``ProviderInvoice``): the subscription comes from
``parent.subscription_details.subscription`` (API 2025-03-31 and later) or the legacy
top-level ``subscription``; ``workspace_id`` from the subscription's metadata copied
into ``parent.subscription_details.metadata``, else the invoice's own metadata; tax is
the sum of ``total_taxes`` (or the legacy ``tax``); the period spans the lines' periods
(the service period; Stripe's ``period_start``/``period_end`` on a renewal invoice are
the previous period), else ``period_start``/``period_end``; ``issued_at`` is
``status_transitions.finalized_at``, else ``created``. Currencies are upper-cased.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from core.billing import SubscriptionStatus
from core.billing.payments import (
    InvoiceStatus,
    OneOffPayment,
    ProviderInvoice,
    SubscriptionState,
)

# Metadata keys we set on Stripe's objects.
META_WORKSPACE: Final = "workspace_id"
META_KEY: Final = "ninefold_key"  # our price key (or product key) on a Price / Product
META_FINGERPRINT: Final = "ninefold_fingerprint"
META_PRICE: Final = "ninefold_price_id"  # on a checkout session: the Stripe price bought
META_PRICE_KEY: Final = "ninefold_price_key"
META_QUANTITY: Final = "ninefold_quantity"

SUBSCRIPTION_STATUSES: Final[Mapping[str, SubscriptionStatus]] = {
    status.value: status for status in SubscriptionStatus
}
INVOICE_STATUSES: Final[Mapping[str, InvoiceStatus]] = {
    status.value: status for status in InvoiceStatus
}


class UnreadableObjectError(ValueError):
    """A Stripe object without a field we need, or with a value we do not know."""


def instant(value: Any) -> datetime | None:
    """Stripe's Unix seconds as an aware UTC datetime; ``None`` for null or absent."""
    if value is None or isinstance(value, bool):
        return None
    if not isinstance(value, int | float):
        raise UnreadableObjectError(f"expected a Unix time, got {type(value).__name__}")
    return datetime.fromtimestamp(value, UTC)


def object_id(value: Any) -> str | None:
    """An id, whether Stripe sent it bare or expanded into its object."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, Mapping):
        found = value.get("id")
        if isinstance(found, str) and found:
            return found
    return None


def metadata(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    found = obj.get("metadata")
    return found if isinstance(found, Mapping) else {}


def _text(obj: Mapping[str, Any], name: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str) or not value:
        raise UnreadableObjectError(f"`{name}` is missing or not a string")
    return value


def _int(obj: Mapping[str, Any], name: str, default: int | None = None) -> int:
    value = obj.get(name)
    if value is None and default is not None:
        return default
    if not isinstance(value, int) or isinstance(value, bool):
        raise UnreadableObjectError(f"`{name}` is missing or not an integer")
    return value


def _optional_text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _first_item(subscription: Mapping[str, Any]) -> Mapping[str, Any]:
    items = subscription.get("items")
    data = items.get("data") if isinstance(items, Mapping) else None
    if not isinstance(data, list) or not data or not isinstance(data[0], Mapping):
        raise UnreadableObjectError("the subscription has no items")
    item: Mapping[str, Any] = data[0]
    return item


def read_subscription(subscription: Mapping[str, Any], *, version: int) -> SubscriptionState:
    """A Stripe ``subscription`` as a ``SubscriptionState`` (see the module docstring)."""
    raw_status = _text(subscription, "status")
    status = SUBSCRIPTION_STATUSES.get(raw_status)
    if status is None:
        raise UnreadableObjectError(f"unknown subscription status {raw_status!r}")
    customer = object_id(subscription.get("customer"))
    if customer is None:
        raise UnreadableObjectError("the subscription has no customer")
    item = _first_item(subscription)
    price = item.get("price")
    price_id = object_id(price) or object_id(item.get("plan"))
    if price_id is None:
        raise UnreadableObjectError("the subscription's item has no price")
    currency = subscription.get("currency")
    if not isinstance(currency, str) and isinstance(price, Mapping):
        currency = price.get("currency")
    if not isinstance(currency, str) or not currency:
        raise UnreadableObjectError("the subscription has no currency")
    start = instant(item.get("current_period_start", subscription.get("current_period_start")))
    end = instant(item.get("current_period_end", subscription.get("current_period_end")))
    cancel_at = instant(subscription.get("cancel_at"))
    scheduled = bool(subscription.get("cancel_at_period_end")) or (
        cancel_at is not None and cancel_at == end and status is not SubscriptionStatus.CANCELED
    )
    return SubscriptionState(
        provider_subscription_id=_text(subscription, "id"),
        customer_id=customer,
        workspace_id=_optional_text(metadata(subscription).get(META_WORKSPACE)),
        status=status,
        price_id=price_id,
        currency=currency.upper(),
        quantity=_int(item, "quantity", 1),
        current_period_start=start,
        current_period_end=end,
        trial_end=instant(subscription.get("trial_end")),
        cancel_at_period_end=scheduled,
        canceled_at=instant(subscription.get("canceled_at")),
        ended_at=instant(subscription.get("ended_at")),
        provider_version=version,
    )


def invoice_subscription(invoice: Mapping[str, Any]) -> tuple[str | None, Mapping[str, Any]]:
    """The invoice's subscription id and the subscription metadata Stripe copied on it."""
    parent = invoice.get("parent")
    details = parent.get("subscription_details") if isinstance(parent, Mapping) else None
    if isinstance(details, Mapping):
        found = object_id(details.get("subscription"))
        if found is not None:
            return found, metadata(details)
    legacy = invoice.get("subscription_details")
    return object_id(invoice.get("subscription")), (
        metadata(legacy) if isinstance(legacy, Mapping) else {}
    )


def _tax(invoice: Mapping[str, Any]) -> int:
    taxes = invoice.get("total_taxes")
    if isinstance(taxes, list):
        return sum(
            t["amount"]
            for t in taxes
            if isinstance(t, Mapping) and isinstance(t.get("amount"), int)
        )
    legacy = invoice.get("tax")
    return legacy if isinstance(legacy, int) else 0


def _period(invoice: Mapping[str, Any]) -> tuple[datetime | None, datetime | None]:
    lines = invoice.get("lines")
    data = lines.get("data") if isinstance(lines, Mapping) else None
    starts: list[datetime] = []
    ends: list[datetime] = []
    for line in data if isinstance(data, list) else []:
        period = line.get("period") if isinstance(line, Mapping) else None
        if isinstance(period, Mapping):
            start, end = instant(period.get("start")), instant(period.get("end"))
            if start is not None and end is not None:
                starts.append(start)
                ends.append(end)
    if starts:
        return min(starts), max(ends)
    return instant(invoice.get("period_start")), instant(invoice.get("period_end"))


def read_invoice(invoice: Mapping[str, Any], *, version: int) -> ProviderInvoice:
    """A Stripe ``invoice`` as a ``ProviderInvoice`` (see the module docstring)."""
    raw_status = _text(invoice, "status")
    status = INVOICE_STATUSES.get(raw_status)
    if status is None:
        raise UnreadableObjectError(f"unknown invoice status {raw_status!r}")
    customer = object_id(invoice.get("customer"))
    if customer is None:
        raise UnreadableObjectError("the invoice has no customer")
    subscription_id, subscription_meta = invoice_subscription(invoice)
    workspace = subscription_meta.get(META_WORKSPACE) or metadata(invoice).get(META_WORKSPACE)
    transitions = invoice.get("status_transitions")
    finalized = (
        instant(transitions.get("finalized_at")) if isinstance(transitions, Mapping) else None
    )
    issued = finalized or instant(invoice.get("created"))
    if issued is None:
        raise UnreadableObjectError("the invoice has no creation time")
    period_start, period_end = _period(invoice)
    return ProviderInvoice(
        provider_invoice_id=_text(invoice, "id"),
        customer_id=customer,
        workspace_id=_optional_text(workspace),
        provider_subscription_id=subscription_id,
        number=_optional_text(invoice.get("number")),
        status=status,
        currency=_text(invoice, "currency").upper(),
        subtotal=_int(invoice, "subtotal", 0),
        tax=_tax(invoice),
        total=_int(invoice, "total", 0),
        amount_paid=_int(invoice, "amount_paid", 0),
        amount_due=_int(invoice, "amount_due", 0),
        period_start=period_start,
        period_end=period_end,
        issued_at=issued,
        hosted_url=_optional_text(invoice.get("hosted_invoice_url")),
        pdf_url=_optional_text(invoice.get("invoice_pdf")),
        provider_version=version,
    )


def read_payment(session: Mapping[str, Any], *, paid_at: datetime) -> OneOffPayment:
    """A paid ``checkout.session`` in ``payment`` mode as a ``OneOffPayment``: the price
    and quantity come from the metadata ``create_checkout`` put on the session."""
    meta = metadata(session)
    price_id = _optional_text(meta.get(META_PRICE))
    if price_id is None:
        raise UnreadableObjectError(f"the session has no `metadata.{META_PRICE}`")
    try:
        quantity = int(meta.get(META_QUANTITY) or 1)
    except (TypeError, ValueError):
        raise UnreadableObjectError(f"`metadata.{META_QUANTITY}` is not a number") from None
    workspace = meta.get(META_WORKSPACE) or session.get("client_reference_id")
    return OneOffPayment(
        provider_payment_id=object_id(session.get("payment_intent")) or _text(session, "id"),
        customer_id=object_id(session.get("customer")) or "",
        workspace_id=_optional_text(workspace),
        price_id=price_id,
        quantity=quantity,
        amount=_int(session, "amount_total"),
        currency=_text(session, "currency").upper(),
        paid_at=paid_at,
    )
