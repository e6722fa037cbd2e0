"""The Stripe objects the stand-in (``entrypoints.testing.stripe_standin``) answers and
sends, shaped like Stripe's (its published ``fixtures3.json``): every field a client
may read is there, those the stand-in has no use for with Stripe's empty values."""

from __future__ import annotations

import calendar
import copy
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
Obj = dict[str, Any]

# The fields every object of a kind has the same value for here.
# fmt: off
_CUSTOMER: Obj = {
    "object": "customer", "address": None, "balance": 0, "currency": None,
    "default_source": None, "delinquent": False, "description": None, "livemode": False,
    "invoice_settings": {
        "custom_fields": None, "default_payment_method": None, "footer": None,
        "rendering_options": None,
    },
    "next_invoice_sequence": 1, "phone": None, "preferred_locales": [], "shipping": None,
    "tax_exempt": "none", "test_clock": None,
}
_PRODUCT: Obj = {
    "object": "product", "active": True, "default_price": None, "description": None,
    "images": [], "livemode": False, "marketing_features": [], "package_dimensions": None,
    "shippable": None, "statement_descriptor": None, "tax_code": None, "type": "service",
    "unit_label": None, "url": None,
}
_PRICE: Obj = {
    "object": "price", "billing_scheme": "per_unit", "custom_unit_amount": None,
    "livemode": False, "tax_behavior": "unspecified", "tiers_mode": None,
    "transform_quantity": None,
}
_CHECKOUT_SESSION: Obj = {
    "object": "checkout.session", "after_expiration": None, "allow_promotion_codes": None,
    "automatic_tax": {"enabled": False, "liability": None, "status": None},
    "billing_address_collection": None, "client_secret": None, "customer_details": None,
    "customer_email": None, "invoice": None, "livemode": False, "locale": None,
    "payment_intent": None, "payment_method_types": ["card"], "payment_status": "unpaid",
    "status": "open", "subscription": None, "ui_mode": "hosted",
    "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
}
_SUBSCRIPTION: Obj = {
    "object": "subscription", "application": None,
    "automatic_tax": {"enabled": False, "liability": None, "disabled_reason": None},
    "billing_mode": {"type": "flexible"}, "cancel_at": None, "cancel_at_period_end": False,
    "canceled_at": None,
    "cancellation_details": {"comment": None, "feedback": None, "reason": None},
    "collection_method": "charge_automatically", "days_until_due": None,
    "description": None, "discounts": [], "ended_at": None, "latest_invoice": None,
    "livemode": False, "pause_collection": None, "pending_update": None, "schedule": None,
    "test_clock": None, "trial_end": None, "trial_start": None,
}
_INVOICE: Obj = {
    "object": "invoice", "account_country": "US", "account_name": "Ninefold Stand-in",
    "amount_paid": 0, "attempt_count": 0, "attempted": False, "auto_advance": True,
    "collection_method": "charge_automatically", "description": None, "discounts": [],
    "due_date": None, "livemode": False, "metadata": {}, "next_payment_attempt": None,
    "status": "open", "total_taxes": [],
}
_LINE: Obj = {
    "object": "line_item", "discount_amounts": [], "discountable": True, "discounts": [],
    "livemode": False, "metadata": {}, "taxes": [],
}
# fmt: on


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(ALPHABET) for _ in range(length))


def signature_header(body: bytes, secrets_: Sequence[str], timestamp: int) -> str:
    """Stripe's ``Stripe-Signature`` for ``body``: ``t=…`` and one ``v1=`` hex
    HMAC-SHA256 of ``{t}.{body}`` per secret (keyed with the whole ``whsec_…`` string)."""
    signed = f"{timestamp}.".encode() + body
    parts = [f"t={timestamp}"]
    parts += [f"v1={hmac.new(s.encode(), signed, hashlib.sha256).hexdigest()}" for s in secrets_]
    return ",".join(parts)


def add_interval(at: datetime, interval: str, count: int = 1) -> datetime:
    """``at`` plus ``count`` intervals; for months and years the day is clamped to the
    month's length (Jan 31 + 1 month = Feb 28/29)."""
    if interval in ("day", "week"):
        return at + timedelta(days=count * (7 if interval == "week" else 1))
    months = count * (12 if interval == "year" else 1)
    year, month = divmod(at.month - 1 + months, 12)
    year += at.year
    day = min(at.day, calendar.monthrange(year, month + 1)[1])
    return at.replace(year=year, month=month + 1, day=day)


def listing(data: list[Obj], *, has_more: bool, url: str) -> Obj:
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def customer(ts: int, params: Obj) -> Obj:
    return {
        **copy.deepcopy(_CUSTOMER),
        "id": new_id("cus_", 14),
        "created": ts,
        "description": params.get("description"),
        "email": params.get("email"),
        "invoice_prefix": secrets.token_hex(4).upper(),
        "metadata": dict(params.get("metadata") or {}),
        "name": params.get("name"),
        "phone": params.get("phone"),
    }


def product(ts: int, params: Obj, *, active: bool) -> Obj:
    return {
        **copy.deepcopy(_PRODUCT),
        "id": params.get("id") or new_id("prod_", 14),
        "active": active,
        "created": ts,
        "description": params.get("description"),
        "metadata": dict(params.get("metadata") or {}),
        "name": params["name"],
        "updated": ts,
    }


def price(ts: int, params: Obj, *, amount: int, active: bool, interval_count: int) -> Obj:
    recurring = params.get("recurring")
    return {
        **copy.deepcopy(_PRICE),
        "id": new_id("price_"),
        "active": active,
        "created": ts,
        "currency": params["currency"],
        "lookup_key": params.get("lookup_key") or None,
        "metadata": dict(params.get("metadata") or {}),
        "nickname": params.get("nickname"),
        "product": params["product"],
        "recurring": None
        if recurring is None
        else {
            "interval": recurring["interval"],
            "interval_count": interval_count,
            "meter": None,
            "trial_period_days": None,
            "usage_type": "licensed",
        },
        "tax_behavior": params.get("tax_behavior", "unspecified"),
        "type": "one_time" if recurring is None else "recurring",
        "unit_amount": amount,
        "unit_amount_decimal": str(amount),
    }


def checkout_session(
    ts: int, base_url: str, params: Obj, *, customer_id: str, amount: int, currency: str
) -> Obj:
    session_id = new_id("cs_test_", 58)
    return {
        **copy.deepcopy(_CHECKOUT_SESSION),
        "id": session_id,
        "amount_subtotal": amount,
        "amount_total": amount,
        "cancel_url": params.get("cancel_url"),
        "client_reference_id": params.get("client_reference_id"),
        "created": ts,
        "currency": currency,
        "customer": customer_id,
        "expires_at": ts + 86_400,
        "metadata": dict(params.get("metadata") or {}),
        "mode": params["mode"],
        "success_url": params["success_url"],
        "url": f"{base_url}/c/pay/{session_id}",
    }


def portal_session(ts: int, base_url: str, *, customer_id: str, return_url: str | None) -> Obj:
    session_id = new_id("bps_")
    return {
        "id": session_id,
        "object": "billing_portal.session",
        "configuration": "bpc_ninefoldStandinDefault",
        "created": ts,
        "customer": customer_id,
        "flow": None,
        "livemode": False,
        "locale": None,
        "on_behalf_of": None,
        "return_url": return_url,
        "url": f"{base_url}/p/session/{session_id}",
    }


def payment_intent(ts: int, session: Obj, metadata: Obj) -> Obj:
    return {
        "id": new_id("pi_"),
        "object": "payment_intent",
        "amount": session["amount_total"],
        "amount_received": session["amount_total"],
        "created": ts,
        "currency": session["currency"],
        "customer": session["customer"],
        "livemode": False,
        "metadata": dict(metadata),
        "status": "succeeded",
    }


def subscription(
    ts: int,
    *,
    customer_id: str,
    price_: Obj,
    quantity: int,
    period_end: int,
    trial: bool,
    metadata: Obj,
) -> Obj:
    """A subscription with one item; its period on the item, as API 2025-03-31 on has it."""
    sub_id = new_id("sub_")
    item = {
        "id": new_id("si_", 14),
        "object": "subscription_item",
        "created": ts,
        "current_period_start": ts,
        "current_period_end": period_end,
        "discounts": [],
        "metadata": {},
        "price": copy.deepcopy(price_),
        "quantity": quantity,
        "subscription": sub_id,
        "tax_rates": [],
    }
    return {
        **copy.deepcopy(_SUBSCRIPTION),
        "id": sub_id,
        "billing_cycle_anchor": period_end if trial else ts,
        "created": ts,
        "currency": price_["currency"],
        "customer": customer_id,
        "default_payment_method": new_id("pm_"),
        "items": {
            **listing([item], has_more=False, url=f"/v1/subscription_items?subscription={sub_id}"),
            "total_count": 1,
        },
        "metadata": dict(metadata),
        "start_date": ts,
        "status": "trialing" if trial else "incomplete",
        "trial_end": period_end if trial else None,
        "trial_start": ts if trial else None,
    }


def invoice(
    ts: int, base_url: str, *, subscription_: Obj, customer_: Obj, amount: int, reason: str
) -> Obj:
    """An open (finalized) invoice of ``amount`` for the subscription's item and period."""
    item = subscription_["items"]["data"][0]
    invoice_id = new_id("in_")
    line = {
        **copy.deepcopy(_LINE),
        "id": new_id("il_"),
        "amount": amount,
        "currency": subscription_["currency"],
        "description": f"{item['quantity']} x {item['price']['nickname'] or 'Plan'}",
        "invoice": invoice_id,
        "parent": {
            "type": "subscription_item_details",
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": None,
                "proration": reason == "subscription_update",
                "proration_details": {"credited_items": None},
                "subscription": subscription_["id"],
                "subscription_item": item["id"],
            },
        },
        "period": {"start": item["current_period_start"], "end": item["current_period_end"]},
        "pricing": {
            "type": "price_details",
            "price_details": {"price": item["price"]["id"], "product": item["price"]["product"]},
            "unit_amount_decimal": str(item["price"]["unit_amount"]),
        },
        "quantity": item["quantity"],
        "subtotal": amount,
    }
    sequence = customer_["next_invoice_sequence"]
    customer_["next_invoice_sequence"] += 1
    return {
        **copy.deepcopy(_INVOICE),
        "id": invoice_id,
        "amount_due": amount,
        "amount_remaining": amount,
        "billing_reason": reason,
        "created": ts,
        "currency": subscription_["currency"],
        "customer": customer_["id"],
        "customer_email": customer_["email"],
        "customer_name": customer_["name"],
        "effective_at": ts,
        "hosted_invoice_url": f"{base_url}/invoice/{invoice_id}",
        "invoice_pdf": f"{base_url}/invoice/{invoice_id}/pdf",
        "lines": listing([line], has_more=False, url=f"/v1/invoices/{invoice_id}/lines"),
        "number": f"{customer_['invoice_prefix']}-{sequence:04d}",
        "parent": {
            "type": "subscription_details",
            "quote_details": None,
            "subscription_details": {
                "metadata": dict(subscription_["metadata"]),
                "subscription": subscription_["id"],
            },
        },
        "period_end": ts,
        "period_start": ts,
        "status_transitions": {
            "finalized_at": ts,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        },
        "subtotal": amount,
        "subtotal_excluding_tax": amount,
        "total": amount,
        "total_excluding_tax": amount,
    }


def meter_event(ts: int, *, name: str, identifier: str, payload: Obj, timestamp: int) -> Obj:
    return {
        "object": "billing.meter_event",
        "created": ts,
        "event_name": name,
        "identifier": identifier,
        "livemode": False,
        "payload": dict(payload),
        "timestamp": timestamp,
    }


def event(
    ts: int,
    event_type: str,
    obj: Obj,
    *,
    previous: Obj | None,
    api_version: str | None,
    request: Obj,
) -> Obj:
    """An event (a snapshot of ``obj`` now), as webhook endpoints receive it."""
    data: Obj = {"object": copy.deepcopy(obj)}
    if previous is not None:
        data["previous_attributes"] = copy.deepcopy(previous)
    return {
        "id": new_id("evt_"),
        "object": "event",
        "api_version": api_version,
        "created": ts,
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": dict(request),
        "type": event_type,
    }
