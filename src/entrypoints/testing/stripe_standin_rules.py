"""Stripe's wire rules for the stand-in (``entrypoints.testing.stripe_standin``): the
bracket-notation form decoder, the routes with the parameters each accepts, Stripe's
error shape and the value checks Stripe applies."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

EXPAND = "expand"


class StripeError(Exception):
    """An error answer, as Stripe shapes it: ``{"error": {"type", "code", "message",
    "param", "doc_url"}}``."""

    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.type, self.message = status, type_, message
        self.code, self.param = code, param
        self.headers = dict(headers or {})

    def body(self) -> bytes:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param:
            error["param"] = self.param
        return json.dumps({"error": error}).encode()

    @classmethod
    def missing(cls, param: str) -> StripeError:
        return cls(
            400, "invalid_request_error", f"Missing required param: {param}.",
            code="parameter_missing", param=param,
        )  # fmt: skip

    @classmethod
    def invalid(cls, param: str | None, message: str) -> StripeError:
        return cls(
            400, "invalid_request_error", message,
            code="parameter_invalid_empty" if param is None else "parameter_invalid",
            param=param,
        )  # fmt: skip

    @classmethod
    def for_status(cls, status: int, headers: Mapping[str, str]) -> StripeError:
        """The error Stripe answers with ``status`` (for ``fail_next``)."""
        if status == 429:
            return cls(
                429, "invalid_request_error",
                "Request rate limit exceeded. Learn more about rate limits here"
                " https://stripe.com/docs/rate-limits.",
                code="rate_limit", headers=headers,
            )  # fmt: skip
        if status >= 500:
            return cls(
                status, "api_error", "Something went wrong on Stripe's end.", headers=headers
            )
        if status == 401:
            return cls(401, "invalid_request_error", "Invalid API Key provided.", headers=headers)
        if status == 402:
            return cls(
                402, "card_error", "Your card was declined.", code="card_declined",
                headers=headers,
            )  # fmt: skip
        if status == 404:
            return cls(
                404, "invalid_request_error", "No such object.", code="resource_missing",
                headers=headers,
            )  # fmt: skip
        return cls(
            status, "invalid_request_error", f"The stand-in was told to answer {status}.",
            code="parameter_invalid", headers=headers,
        )  # fmt: skip


def decode_form(text: str) -> dict[str, Any]:
    """Stripe's form encoding as nested values: ``a[b][0][c]=v`` → ``{"a": {"b": [{"c":
    "v"}]}}``. Scalars stay strings, as Stripe receives them."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        parts = [key.split("[", 1)[0], *re.findall(r"\[([^\]]*)\]", key)]
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise StripeError.invalid(key, f"Invalid nesting for {key}.")
        last = parts[-1] or str(len(node))  # ``expand[]=x``: the next index
        node[last] = value
    decoded: dict[str, Any] = _lists(root)
    return decoded


def _lists(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    converted = {k: _lists(v) for k, v in value.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


def check_params(
    params: Mapping[str, Any], allowed: set[str] | frozenset[str], where: str = ""
) -> None:
    for name in params:
        if name not in allowed and name != EXPAND:
            shown = f"{where}[{name}]" if where else name
            raise StripeError(
                400, "invalid_request_error", f"Received unknown parameter: {shown}",
                code="parameter_unknown", param=shown,
            )  # fmt: skip


def flag(value: Any, param: str) -> bool:
    if value in ("true", True):
        return True
    if value in ("false", False):
        return False
    raise StripeError.invalid(param, f"Invalid boolean: {value}")


def integer(value: Any, param: str, *, minimum: int | None = None) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise StripeError.invalid(param, f"Invalid integer: {value}") from None
    if minimum is not None and number < minimum:
        raise StripeError.invalid(param, f"This value must be greater than or equal to {minimum}.")
    return number


def _route(
    method: str, pattern: str, handler: str, *allowed: str
) -> tuple[str, re.Pattern[str], str, frozenset[str]]:
    return method, re.compile(pattern), handler, frozenset(allowed)


_ID = r"([A-Za-z0-9_]+)"
ROUTES = [
    _route(
        "POST", "/v1/customers", "create_customer",
        "name", "email", "metadata", "description", "phone",
    ),
    _route("GET", f"/v1/customers/{_ID}", "retrieve_customer"),
    _route(
        "POST", "/v1/products", "create_product",
        "id", "name", "description", "metadata", "active",
    ),
    _route("GET", f"/v1/products/{_ID}", "retrieve_product"),
    _route(
        "POST", "/v1/prices", "create_price",
        "product", "currency", "unit_amount", "recurring", "lookup_key", "transfer_lookup_key",
        "nickname", "metadata", "tax_behavior", "active",
    ),
    _route(
        "GET", "/v1/prices", "list_prices",
        "lookup_keys", "active", "product", "limit", "starting_after",
    ),
    _route("GET", f"/v1/prices/{_ID}", "retrieve_price"),
    _route(
        "POST", f"/v1/prices/{_ID}", "update_price",
        "active", "metadata", "lookup_key", "transfer_lookup_key", "nickname",
    ),
    _route(
        "POST", "/v1/checkout/sessions", "create_checkout_session",
        "mode", "customer", "line_items", "client_reference_id", "success_url", "cancel_url",
        "metadata", "subscription_data", "payment_intent_data", "allow_promotion_codes",
        "billing_address_collection", "automatic_tax", "locale", "customer_update",
    ),
    _route("GET", f"/v1/checkout/sessions/{_ID}", "retrieve_checkout_session"),
    _route(
        "POST", "/v1/billing_portal/sessions", "create_portal_session",
        "customer", "return_url", "configuration", "locale", "flow_data",
    ),
    _route("GET", f"/v1/subscriptions/{_ID}", "retrieve_subscription"),
    _route(
        "POST", f"/v1/subscriptions/{_ID}", "update_subscription",
        "items", "cancel_at_period_end", "proration_behavior", "payment_behavior", "metadata",
    ),
    _route(
        "DELETE", f"/v1/subscriptions/{_ID}", "cancel_subscription",
        "invoice_now", "prorate", "cancellation_details",
    ),
    _route(
        "GET", "/v1/invoices", "list_invoices",
        "customer", "subscription", "status", "limit", "starting_after",
    ),
    _route("GET", f"/v1/invoices/{_ID}", "retrieve_invoice"),
    _route(
        "POST", "/v1/billing/meter_events", "create_meter_event",
        "event_name", "payload", "identifier", "timestamp",
    ),
]  # fmt: skip
