"""A local stand-in for Dodo Payments, for testing the Dodo adapter with the real SDK and
no network.

It speaks the wire format of Dodo's OpenAPI document (v1.53.2, with the request fields
the SDK 1.123 sends): JSON bodies, ``Authorization: Bearer <key>`` (401 otherwise), ids
``cus_`` / ``pdt_`` / ``cks_`` / ``sub_`` / ``pay_`` / ``msg_``, and errors as Dodo answers
them, ``{"code": "NOT_FOUND", "message": "…"}`` (the document gives no error schema).
A request with a field the SDK would not send, or without one Dodo requires, gets 422,
so a wrong call fails the test instead of passing silently. Routes:

- ``POST /customers``, ``GET /customers`` (``email`` filter), ``GET /customers/{id}``,
  ``POST /customers/{id}/customer-portal/session``;
- ``POST /products`` (``recurring_price`` or ``one_time_price``), ``GET /products``
  (``archived`` filter), ``GET /products/{id}``, ``DELETE /products/{id}`` (archives);
- ``POST /checkouts``, ``GET /checkouts/{id}``;
- ``GET`` / ``PATCH /subscriptions/{id}`` (``cancel_at_next_billing_date``, ``status``
  ``cancelled`` to cancel now, ``metadata``), ``POST /subscriptions/{id}/change-plan``
  (every ``proration_billing_mode``; effective at once);
- ``POST /events/ingest``: 1 to 1,000 events, no ``event_id`` twice in one request, each
  ``timestamp`` within -1 h / +5 min of the stand-in's clock (else the whole request
  gets 422); an ``event_id`` already ingested is ignored, as Dodo documents;
- ``GET /payments`` (``customer_id`` / ``subscription_id`` / ``status`` filters, newest
  first), ``GET /payments/{id}``, ``GET /invoices/payments/{id}`` (a PDF).

Dodo documents no ``Idempotency-Key``; the stand-in ignores it as Dodo would.
``fail_next(status)`` answers the next API call(s) with that error.

It also plays Dodo's back office for tests, on its own clock (``now``, ``advance``):
``pay`` / ``decline`` a checkout session (a subscription with its first payment, or a
one-off payment), ``renew``, ``fail_payment`` (the renewal fails: ``on_hold``),
``recover_payment``. Each emits the webhooks Dodo sends (``payment.succeeded``,
``payment.failed``, ``subscription.active``, ``renewed``, ``on_hold``, ``failed``,
``cancelled``, ``plan_changed``, ``updated``), shaped as the document's
``OutgoingWebhook`` (``business_id``, ``type``, ``timestamp``, ``data`` with
``payload_type``) and signed with Standard Webhooks (``webhook-id`` /
``webhook-timestamp`` / ``webhook-signature``) by ``sign`` below, with the standard
library, independently of the adapter. ``webhooks()`` hands them over.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import json
import re
import secrets
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgspec

from entrypoints.testing.standin_server import ServedInThread

DEFAULT_API_KEY = "dodo_standin_0123456789abcdef"
DEFAULT_WEBHOOK_SECRET = "whsec_bmluZWZvbGQtZG9kby1zdGFuZGluLXNpZ25pbmcta2V5"
BUSINESS_ID = "bus_standin0000000000001"
BRAND_ID = "bus_standin0000000000001"
MAX_EVENTS = 1_000
BILLING = {
    "country": "US",
    "city": "Springfield",
    "state": "IL",
    "street": "1 Main St",
    "zipcode": "62701",
}


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


# The request fields the SDK 1.123 may send, per route (its *Params TypedDicts).
FIELDS = {
    "customer": _names("email name metadata phone_number preferred_locale"),
    "product": _names("""name price tax_category addons brand_id credit_entitlements description
        digital_product_delivery entitlements metadata license_key_activation_message
        license_key_activations_limit license_key_duration license_key_enabled
        pricing_mode"""),
    "checkout": _names("""product_cart allowed_payment_method_types billing_address billing_currency
        cancel_url confirm custom_fields customer customer_business_name customization
        discount_code discount_codes feature_flags force_3ds mandate_min_amount_inr_paise
        metadata minimal_address payment_method_id product_collection_id return_url
        short_link show_saved_payment_methods subscription_data tax_id"""),
    "update": _names("""billing cancel_at_next_billing_date cancel_reason cancellation_comment
        cancellation_feedback credit_entitlement_cart customer_business_name customer_name
        disable_on_demand metadata next_billing_date status subscription_period_count
        subscription_period_interval tax_id"""),
    "change": _names("""product_id proration_billing_mode quantity adaptive_currency_fees_inclusive
        addons cancel_older_payment_link cancel_scheduled_change_plan
        collect_via_payment_link discount_code discount_codes effective_at metadata
        on_payment_failure return_url"""),
    "event": _names("customer_id event_id event_name metadata timestamp"),
}
PRORATION_MODES = _names("""prorated_immediately full_immediately difference_immediately do_not_bill
    prorated_immediately_keep_cycle""")
INTERVALS = frozenset({"Day", "Week", "Month", "Year"})
_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    409: "CONFLICT",
    422: "INVALID_REQUEST_BODY",
    429: "TOO_MANY_REQUESTS",
}
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

Delivery = tuple[dict[str, str], bytes]


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Standard Webhooks headers for ``body``: ``v1,`` and the base64 HMAC-SHA256 of
    ``{msg_id}.{timestamp}.{body}``, keyed with the base64 after ``whsec_``, decoded."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": f"v1,{base64.b64encode(digest).decode()}",
    }


def new_id(prefix: str) -> str:
    return prefix + "_" + "".join(secrets.choice(_BASE62) for _ in range(21))


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def add_interval(at: datetime, interval: str, count: int = 1) -> datetime:
    """``at`` plus ``count`` Dodo ``TimeInterval``s (months clamp to the month's end)."""
    if interval == "Day":
        return at + timedelta(days=count)
    if interval == "Week":
        return at + timedelta(weeks=count)
    months = count * (12 if interval == "Year" else 1)
    month0 = at.month - 1 + months
    year, month = at.year + month0 // 12, month0 % 12 + 1
    day = min(at.day, calendar.monthrange(year, month)[1])
    return at.replace(year=year, month=month, day=day)


class StandinRequest(msgspec.Struct, frozen=True, kw_only=True):
    """One request as received, whatever the answer (headers lower-cased)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _not_found(what: str) -> ApiError:
    return ApiError(404, "NOT_FOUND", f"{what} not found")


def _invalid(message: str) -> ApiError:
    return ApiError(422, "INVALID_REQUEST_BODY", message)


class DodoStandin(ServedInThread):
    thread_name = "dodo-standin"

    """A threaded HTTP server on 127.0.0.1 (a free port) that plays Dodo Payments."""

    def __init__(
        self,
        api_key: str = DEFAULT_API_KEY,
        webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
        *,
        now: datetime | None = None,
    ) -> None:
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self._now = (now or datetime.now(UTC)).astimezone(UTC)
        self.requests: list[StandinRequest] = []
        self.customers: dict[str, dict[str, Any]] = {}
        self.products: dict[str, dict[str, Any]] = {}
        self.archived: set[str] = set()
        self.sessions: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.payments: dict[str, dict[str, Any]] = {}
        self.events: dict[str, dict[str, Any]] = {}
        self.deliveries: list[Delivery] = []
        self._taken = 0
        self._failures: list[tuple[int, int]] = []  # (status, times)
        self._lock = threading.RLock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # Running

    # The clock, failures, webhooks, usage

    @property
    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._now += delta

    def set_now(self, at: datetime) -> None:
        with self._lock:
            self._now = at.astimezone(UTC)

    def _tick(self) -> datetime:
        """Every change takes a microsecond, so events have distinct, ordered times."""
        self._now += timedelta(microseconds=1)
        return self._now

    def fail_next(self, status: int, *, times: int = 1) -> None:
        """Answer the next ``times`` API calls with HTTP ``status``."""
        with self._lock:
            self._failures.append((status, times))

    def webhooks(self) -> list[Delivery]:
        """The webhooks sent since the last call, oldest first."""
        with self._lock:
            fresh = self.deliveries[self._taken :]
            self._taken = len(self.deliveries)
            return list(fresh)

    def sign(self, body: bytes, *, at: datetime, msg_id: str) -> dict[str, str]:
        return sign(self.webhook_secret, msg_id, int(at.timestamp()), body)

    def webhook_body(self, event_type: str, data: dict[str, Any], payload_type: str) -> bytes:
        body = {
            "business_id": BUSINESS_ID,
            "type": event_type,
            "timestamp": iso(self._tick()),
            "data": {**_public(data), "payload_type": payload_type},
        }
        return json.dumps(body).encode()

    def _emit(self, event_type: str, data: dict[str, Any], payload_type: str) -> None:
        body = self.webhook_body(event_type, data, payload_type)
        self.deliveries.append((self.sign(body, at=self._now, msg_id=new_id("msg")), body))

    def usage_total(self, customer_id: str, event_name: str, key: str = "quantity") -> int:
        """What a ``sum`` meter over ``metadata.<key>`` counts for the customer."""
        with self._lock:
            total = 0.0
            for event in self.events.values():
                if event["customer_id"] == customer_id and event["event_name"] == event_name:
                    value = (event.get("metadata") or {}).get(key, 0)
                    total += float(value)
            return int(total)

    # Back office

    def pay(self, session_id: str) -> None:
        """The customer completes checkout ``session_id`` with a working card."""
        with self._lock:
            self._complete(session_id, paid=True)

    def decline(self, session_id: str) -> None:
        """The customer's card is declined at checkout ``session_id``."""
        with self._lock:
            self._complete(session_id, paid=False)

    def renew(self, subscription_id: str) -> None:
        """The period ends now and the renewal is paid (or a scheduled cancel happens)."""
        with self._lock:
            sub = self._subscription(subscription_id)
            self._now = max(self._now, _parse(sub["next_billing_date"]))
            if sub["cancel_at_next_billing_date"]:
                self._cancel(sub)
                return
            self._charge(sub, "renewal", succeeded=True)
            self._emit(
                "subscription.renewed", {**sub, "payment_id": sub["_last_payment"]}, "Subscription"
            )

    def fail_payment(self, subscription_id: str) -> None:
        """The period ends now and the renewal payment fails: the subscription is held."""
        with self._lock:
            sub = self._subscription(subscription_id)
            self._now = max(self._now, _parse(sub["next_billing_date"]))
            self._charge(sub, "renewal", succeeded=False)
            sub["status"] = "on_hold"
            self._emit("subscription.on_hold", dict(sub), "Subscription")

    def recover_payment(self, subscription_id: str) -> None:
        """The held renewal is paid (the customer updated the card): active again."""
        with self._lock:
            sub = self._subscription(subscription_id)
            earlier = [
                p for p in self.payments.values() if p["subscription_id"] == sub["subscription_id"]
            ]
            retry = max((p["retry_attempt"] for p in earlier), default=0) + 1
            self._charge(sub, "renewal", succeeded=True, retry_attempt=retry)
            sub["status"] = "active"
            self._emit("subscription.active", dict(sub), "Subscription")

    def _complete(self, session_id: str, *, paid: bool) -> None:
        session = self.sessions.get(session_id)
        if session is None:
            raise KeyError(session_id)
        if session["status"] != "open":
            raise ValueError(f"checkout {session_id} is already {session['status']}")
        session["status"] = "succeeded" if paid else "failed"
        line = session["product_cart"][0]
        product = self.products[line["product_id"]]
        customer = self.customers[session["customer_id"]]
        now = self._tick()
        if not product["is_recurring"]:
            payment = self._payment(
                customer,
                session["metadata"],
                product["price"]["price"] * line["quantity"],
                product["price"]["currency"],
                succeeded=paid,
                sub=None,
                cart=[{"product_id": product["product_id"], "quantity": line["quantity"]}],
                session_id=session_id,
            )
            session["payment_id"] = payment["payment_id"]
            self._emit("payment.succeeded" if paid else "payment.failed", payment, "Payment")
            return
        price = product["price"]
        trial = session.get("trial_period_days") or price.get("trial_period_days") or 0
        sub: dict[str, Any] = {
            "addons": [],
            "billing": dict(BILLING),
            "brand_id": BRAND_ID,
            "cancel_at_next_billing_date": False,
            "created_at": iso(now),
            "credit_entitlement_cart": [],
            "currency": price["currency"],
            "customer": _limited(customer),
            "has_payment_method": True,
            "metadata": dict(session["metadata"]),
            "meter_credit_entitlement_cart": [],
            "meters": [],
            "on_demand": False,
            "payment_frequency_count": price["payment_frequency_count"],
            "payment_frequency_interval": price["payment_frequency_interval"],
            "previous_billing_date": iso(now),
            "next_billing_date": iso(add_interval(now, "Day", trial) if trial else now),
            "product_id": product["product_id"],
            "quantity": line["quantity"],
            "recurring_pre_tax_amount": price["price"] * line["quantity"],
            "status": "pending",
            "subscription_id": new_id("sub"),
            "subscription_period_count": price["subscription_period_count"],
            "subscription_period_interval": price["subscription_period_interval"],
            "tax_inclusive": False,
            "trial_period_days": trial,
            "cancelled_at": None,
            "discount_id": None,
            "discounts": [],
            "expires_at": iso(
                add_interval(
                    now, price["subscription_period_interval"], price["subscription_period_count"]
                )
            ),
            "payment_method_id": "pm_standin",
            "scheduled_change": None,
            "tax_id": None,
            "_last_payment": None,
            "_checkout": session_id,
        }
        self.subscriptions[sub["subscription_id"]] = sub
        session["subscription_id"] = sub["subscription_id"]
        if trial and paid:
            sub["status"] = "active"
        else:
            self._charge(sub, "new", succeeded=paid, session_id=session_id)
            session["payment_id"] = sub["_last_payment"]
            sub["status"] = "active" if paid else "failed"
        self._emit(
            "subscription.active" if paid else "subscription.failed", dict(sub), "Subscription"
        )

    def _charge(
        self,
        sub: dict[str, Any],
        charge_type: str,
        *,
        succeeded: bool,
        retry_attempt: int = 0,
        amount: int | None = None,
        session_id: str | None = None,
    ) -> dict[str, Any]:
        """A payment for ``sub``; a successful ``new`` / ``renewal`` one starts the next
        period (from the current ``next_billing_date``)."""
        customer = self.customers[sub["customer"]["customer_id"]]
        start = _parse(sub["next_billing_date"])
        end = add_interval(start, sub["payment_frequency_interval"], sub["payment_frequency_count"])
        total = sub["recurring_pre_tax_amount"] if amount is None else amount
        payment = self._payment(
            customer,
            sub["metadata"],
            total,
            sub["currency"],
            succeeded=succeeded,
            sub=sub,
            cart=[{"product_id": sub["product_id"], "quantity": sub["quantity"]}],
            session_id=session_id,
            charge_type=charge_type,
            retry_attempt=retry_attempt,
        )
        if succeeded and charge_type in ("new", "renewal"):
            payment["service_periods"] = [
                {
                    "subscription_id": sub["subscription_id"],
                    "starts_at": iso(start),
                    "ends_at": iso(end),
                    "proration_factor": "1",
                }
            ]
            sub["previous_billing_date"], sub["next_billing_date"] = iso(start), iso(end)
        sub["_last_payment"] = payment["payment_id"]
        self._emit("payment.succeeded" if succeeded else "payment.failed", payment, "Payment")
        return payment

    def _payment(
        self,
        customer: dict[str, Any],
        metadata: dict[str, Any],
        total: int,
        currency: str,
        *,
        succeeded: bool,
        sub: dict[str, Any] | None,
        cart: list[dict[str, Any]],
        session_id: str | None,
        charge_type: str | None = None,
        retry_attempt: int = 0,
    ) -> dict[str, Any]:
        now = iso(self._tick())
        payment_id = new_id("pay")
        payment: dict[str, Any] = {
            "billing": dict(BILLING),
            "brand_id": BRAND_ID,
            "business_id": BUSINESS_ID,
            "created_at": now,
            "updated_at": now,
            "currency": currency,
            "customer": _limited(customer),
            "digital_products_delivered": False,
            "disputes": [],
            "has_license_key": False,
            "includes_usage": False,
            "is_multi_subscription": False,
            "is_update_payment_method": False,
            "metadata": dict(metadata),
            "payment_id": payment_id,
            "payment_provider": "dodo",
            "refunds": [],
            "retry_attempt": retry_attempt,
            "service_periods": [],
            "settlement_amount": total,
            "settlement_currency": currency,
            "settlement_tax": 0,
            "subscription_ids": [sub["subscription_id"]] if sub else [],
            "subscription_id": sub["subscription_id"] if sub else None,
            "total_amount": total,
            "tax": 0,
            "status": "succeeded" if succeeded else "failed",
            "error_code": None if succeeded else "CARD_DECLINED",
            "error_message": None if succeeded else "Your card was declined.",
            "product_cart": cart,
            "checkout_session_id": session_id,
            "charge_type": charge_type,
            "card_last_four": "4242",
            "card_network": "visa",
            "card_type": "credit",
            "payment_method": "card",
            "payment_method_type": "credit",
            "invoice_id": f"INV-{len(self.payments) + 1:06d}",
            "invoice_url": f"{self.url}/invoices/payments/{payment_id}",
        }
        self.payments[payment_id] = payment
        return payment

    def _cancel(self, sub: dict[str, Any]) -> None:
        sub["status"] = "cancelled"
        sub["cancelled_at"] = iso(self._tick())
        self._emit("subscription.cancelled", dict(sub), "Subscription")

    def _subscription(self, subscription_id: str) -> dict[str, Any]:
        sub = self.subscriptions.get(subscription_id)
        if sub is None:
            raise _not_found("Subscription")
        return sub

    # The API

    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, str, bytes]:
        """Answer one request: status, content type, body."""
        split = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        try:
            with self._lock:
                status, answer = self._answer(method, split.path, query, headers, body)
            kind = "application/json"
            if isinstance(answer, bytes):
                kind, payload = "application/pdf", answer
            else:
                payload = b"" if answer is None else json.dumps(_public(answer)).encode()
        except ApiError as error:
            status, kind = error.status, "application/json"
            payload = json.dumps({"code": error.code, "message": error.message}).encode()
        with self._lock:
            self.requests.append(
                StandinRequest(
                    method=method, path=target, headers=headers, body=body, status=status
                )
            )
        return status, kind, payload

    def _answer(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> tuple[int, Any]:
        if headers.get("authorization") != f"Bearer {self.api_key}":
            raise ApiError(401, "UNAUTHORIZED", "Invalid or missing API key")
        if self._failures:
            status, times = self._failures[0]
            if times <= 1:
                self._failures.pop(0)
            else:
                self._failures[0] = (status, times - 1)
            code = _CODES.get(status, "INTERNAL_SERVER_ERROR")
            raise ApiError(status, code, f"The stand-in was told to answer {status}.")
        payload = _json(body) if method in ("POST", "PATCH") and body else {}
        for pattern, verb, handler in _ROUTES:
            match = re.fullmatch(pattern, path)
            if match and verb == method:
                result: tuple[int, Any] = handler(self, *match.groups(), query=query, body=payload)
                return result
        raise ApiError(404, "NOT_FOUND", f"No route {method} {path}")

    # Customers

    def _create_customer(self, *, query: dict[str, str], body: Any) -> tuple[int, Any]:
        _fields(body, "customer", required=("email", "name"))
        if not isinstance(body["email"], str) or "@" not in body["email"]:
            raise _invalid("email: not an email address")
        customer = {
            "business_id": BUSINESS_ID,
            "created_at": iso(self._tick()),
            "customer_id": new_id("cus"),
            "email": body["email"],
            "name": body["name"],
            "phone_number": body.get("phone_number"),
            "metadata": _metadata(body.get("metadata")),
        }
        self.customers[customer["customer_id"]] = customer
        return 200, customer

    def _list_customers(self, *, query: dict[str, str], body: Any) -> tuple[int, Any]:
        found = [c for c in self.customers.values() if c["email"] == query.get("email", c["email"])]
        return 200, {"items": _page(found, query)}

    def _get_customer(
        self, customer_id: str, *, query: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        return 200, self._customer(customer_id)

    def _portal(self, customer_id: str, *, query: dict[str, str], body: Any) -> tuple[int, Any]:
        self._customer(customer_id)
        return 200, {"link": f"{self.url}/portal/{customer_id}?session={new_id('cps')}"}

    def _customer(self, customer_id: str) -> dict[str, Any]:
        customer = self.customers.get(customer_id)
        if customer is None:
            raise _not_found("Customer")
        return customer

    # Products

    def _create_product(self, *, query: dict[str, str], body: Any) -> tuple[int, Any]:
        _fields(body, "product", required=("name", "price", "tax_category"))
        price = body["price"]
        _check_price(price)
        now = iso(self._tick())
        product = {
            "brand_id": BRAND_ID,
            "business_id": BUSINESS_ID,
            "created_at": now,
            "updated_at": now,
            "credit_entitlements": [],
            "entitlements": [],
            "is_recurring": price["type"] == "recurring_price",
            "license_key_enabled": False,
            "metadata": _metadata(body.get("metadata")),
            "price": price,
            "product_id": new_id("pdt"),
            "name": body["name"],
            "description": body.get("description"),
            "tax_category": body["tax_category"],
            "addons": None,
            "image": None,
            "digital_product_delivery": None,
        }
        self.products[product["product_id"]] = product
        return 200, product

    def _list_products(self, *, query: dict[str, str], body: Any) -> tuple[int, Any]:
        archived = query.get("archived", "false") == "true"
        found = [
            {
                **{
                    k: p[k]
                    for k in (
                        "business_id",
                        "created_at",
                        "updated_at",
                        "entitlements",
                        "is_recurring",
                        "metadata",
                        "product_id",
                        "tax_category",
                        "name",
                        "description",
                        "image",
                    )
                },
                "price": p["price"]["price"],
                "currency": p["price"]["currency"],
                "price_detail": p["price"],
                "tax_inclusive": False,
            }
            for p in self.products.values()
            if (p["product_id"] in self.archived) == archived
        ]
        return 200, {"items": _page(found, query)}

    def _get_product(self, product_id: str, *, query: dict[str, str], body: Any) -> tuple[int, Any]:
        return 200, self._product(product_id)

    def _archive_product(
        self, product_id: str, *, query: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        self._product(product_id)
        self.archived.add(product_id)
        return 200, None

    def _product(self, product_id: str, *, active: bool = False) -> dict[str, Any]:
        product = self.products.get(product_id)
        if product is None:
            raise _not_found("Product")
        if active and product_id in self.archived:
            raise _invalid(f"product {product_id} is archived")
        return product

    # Checkout sessions

    def _create_checkout(self, *, query: dict[str, str], body: Any) -> tuple[int, Any]:
        _fields(body, "checkout", required=("product_cart",))
        cart = body["product_cart"]
        if not isinstance(cart, list) or not 1 <= len(cart) <= 20:
            raise _invalid("product_cart: 1 to 20 items")
        for line in cart:
            if set(line) - {"product_id", "quantity", "addons", "amount", "credit_entitlements"}:
                raise _invalid("product_cart: unknown field")
            if not isinstance(line.get("quantity"), int) or line["quantity"] < 1:
                raise _invalid("product_cart.quantity: at least 1")
            self._product(line["product_id"], active=True)
        customer = body.get("customer") or {}
        if "customer_id" in customer:
            customer_id = self._customer(customer["customer_id"])["customer_id"]
        else:
            _, created = self._create_customer(
                query={},
                body={
                    "email": customer.get("email", "buyer@example.com"),
                    "name": customer.get("name", "Buyer"),
                },
            )
            customer_id = created["customer_id"]
        trial = (body.get("subscription_data") or {}).get("trial_period_days")
        session_id = new_id("cks")
        self.sessions[session_id] = {
            "id": session_id,
            "created_at": iso(self._tick()),
            "product_cart": cart,
            "customer_id": customer_id,
            "metadata": _metadata(body.get("metadata")),
            "return_url": body.get("return_url"),
            "cancel_url": body.get("cancel_url"),
            "trial_period_days": trial,
            "status": "open",
            "payment_id": None,
        }
        return 200, {"session_id": session_id, "checkout_url": f"{self.url}/session/{session_id}"}

    def _get_checkout(
        self, session_id: str, *, query: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        session = self.sessions.get(session_id)
        if session is None:
            raise _not_found("Checkout session")
        payment = self.payments.get(session["payment_id"] or "")
        customer = self.customers[session["customer_id"]]
        return 200, {
            "id": session_id,
            "created_at": session["created_at"],
            "customer_email": customer["email"],
            "customer_name": customer["name"],
            "payment_id": session["payment_id"],
            "payment_status": payment["status"] if payment else None,
        }

    # Subscriptions

    def _get_subscription(
        self, subscription_id: str, *, query: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        return 200, self._subscription(subscription_id)

    def _update_subscription(
        self, subscription_id: str, *, query: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        _fields(body, "update")
        sub = self._subscription(subscription_id)
        status = body.get("status")
        if status is not None and status not in ("cancelled", "paused", "active"):
            raise _invalid(f"status: cannot be set to {status}")
        if sub["status"] in ("cancelled", "expired", "failed"):
            raise _invalid(f"subscription is {sub['status']}")
        if "metadata" in body and body["metadata"] is not None:
            sub["metadata"] = _metadata(body["metadata"])
        if status == "cancelled":
            self._cancel(sub)
            return 200, sub
        if status in ("paused", "active"):
            sub["status"] = status
            self._emit(
                "subscription.paused" if status == "paused" else "subscription.active",
                dict(sub),
                "Subscription",
            )
            return 200, sub
        flag = body.get("cancel_at_next_billing_date")
        if flag is not None:
            if not isinstance(flag, bool):
                raise _invalid("cancel_at_next_billing_date: a boolean")
            sub["cancel_at_next_billing_date"] = flag
        self._emit("subscription.updated", dict(sub), "Subscription")
        return 200, sub

    def _change_plan(
        self, subscription_id: str, *, query: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        _fields(body, "change", required=("product_id", "quantity", "proration_billing_mode"))
        sub = self._subscription(subscription_id)
        mode = body["proration_billing_mode"]
        if mode not in PRORATION_MODES:
            raise _invalid(f"proration_billing_mode: unknown variant {mode}")
        if not isinstance(body["quantity"], int) or body["quantity"] < 1:
            raise _invalid("quantity: at least 1")
        if sub["status"] != "active":
            raise _invalid(f"cannot change the plan of a {sub['status']} subscription")
        product = self._product(body["product_id"], active=True)
        if not product["is_recurring"]:
            raise _invalid("product_id: not a subscription product")
        now = self._tick()
        old = sub["recurring_pre_tax_amount"]
        new = product["price"]["price"] * body["quantity"]
        start, end = _parse(sub["previous_billing_date"]), _parse(sub["next_billing_date"])
        left = max(0.0, (end - now) / (end - start)) if end > start else 0.0
        due = {
            "prorated_immediately": round((new - old) * left),
            "prorated_immediately_keep_cycle": round((new - old) * left),
            "difference_immediately": new - old,
            "full_immediately": new,
            "do_not_bill": 0,
        }[mode]
        sub.update(
            product_id=product["product_id"],
            quantity=body["quantity"],
            recurring_pre_tax_amount=new,
            currency=product["price"]["currency"],
        )
        payment_id = None
        if due > 0:
            payment_id = self._charge(sub, "plan_change", succeeded=True, amount=due)["payment_id"]
        self._emit("subscription.plan_changed", dict(sub), "Subscription")
        return 200, {
            "payment_id": payment_id,
            "payment_link": None,
            "client_secret": None,
            "expires_on": None,
        }

    # Usage events

    def _ingest(self, *, query: dict[str, str], body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or set(body) != {"events"}:
            raise _invalid("body: exactly `events`")
        events = body["events"]
        if not isinstance(events, list) or not 1 <= len(events) <= MAX_EVENTS:
            raise _invalid(f"events: 1 to {MAX_EVENTS} items")
        ids = [event.get("event_id") for event in events]
        if len(set(ids)) != len(ids):
            raise _invalid("events: duplicate event_id in one request")
        for event in events:
            _fields(event, "event", required=("customer_id", "event_id", "event_name"))
            self._customer(event["customer_id"])
            metadata = event.get("metadata") or {}
            if len(metadata) > 50 or not all(
                isinstance(v, (str, int, float, bool)) for v in metadata.values()
            ):
                raise _invalid("metadata: at most 50 keys, string, number or boolean values")
            if event.get("timestamp") is not None:
                at = _parse(event["timestamp"])
                if not self._now - timedelta(hours=1) <= at <= self._now + timedelta(minutes=5):
                    raise _invalid(
                        f"timestamp {event['timestamp']}: older than 1 hour or more"
                        " than 5 minutes ahead"
                    )
        ingested = 0
        for event in events:
            if event["event_id"] not in self.events:
                self.events[event["event_id"]] = {
                    **event,
                    "timestamp": event.get("timestamp") or iso(self._now),
                }
                ingested += 1
        return 200, {"ingested_count": ingested}

    # Payments

    def _list_payments(self, *, query: dict[str, str], body: Any) -> tuple[int, Any]:
        found = [
            p
            for p in self.payments.values()
            if all(p.get(k) == query[k] for k in ("subscription_id", "status") if k in query)
            and p["customer"]["customer_id"]
            == query.get("customer_id", p["customer"]["customer_id"])
        ]
        found.sort(key=lambda p: p["created_at"], reverse=True)
        return 200, {"items": _page(found, query)}

    def _get_payment(self, payment_id: str, *, query: dict[str, str], body: Any) -> tuple[int, Any]:
        payment = self.payments.get(payment_id)
        if payment is None:
            raise _not_found("Payment")
        return 200, payment

    def _invoice_pdf(self, payment_id: str, *, query: dict[str, str], body: Any) -> tuple[int, Any]:
        self._get_payment(payment_id, query=query, body=body)
        return 200, b"%PDF-1.4\n% stand-in invoice " + payment_id.encode() + b"\n%%EOF\n"


_ROUTES: list[tuple[str, str, Any]] = [
    (r"/customers", "POST", DodoStandin._create_customer),
    (r"/customers", "GET", DodoStandin._list_customers),
    (r"/customers/([^/]+)", "GET", DodoStandin._get_customer),
    (r"/customers/([^/]+)/customer-portal/session", "POST", DodoStandin._portal),
    (r"/products", "POST", DodoStandin._create_product),
    (r"/products", "GET", DodoStandin._list_products),
    (r"/products/([^/]+)", "GET", DodoStandin._get_product),
    (r"/products/([^/]+)", "DELETE", DodoStandin._archive_product),
    (r"/checkouts", "POST", DodoStandin._create_checkout),
    (r"/checkouts/([^/]+)", "GET", DodoStandin._get_checkout),
    (r"/subscriptions/([^/]+)", "GET", DodoStandin._get_subscription),
    (r"/subscriptions/([^/]+)", "PATCH", DodoStandin._update_subscription),
    (r"/subscriptions/([^/]+)/change-plan", "POST", DodoStandin._change_plan),
    (r"/events/ingest", "POST", DodoStandin._ingest),
    (r"/payments", "GET", DodoStandin._list_payments),
    (r"/payments/([^/]+)", "GET", DodoStandin._get_payment),
    (r"/invoices/payments/([^/]+)", "GET", DodoStandin._invoice_pdf),
]


def _check_price(price: Any) -> None:
    if not isinstance(price, dict) or price.get("type") not in (
        "one_time_price",
        "recurring_price",
    ):
        raise _invalid("price: a one_time_price or a recurring_price")
    required = ["currency", "price"]
    if price["type"] == "recurring_price":
        required += [
            "payment_frequency_count",
            "payment_frequency_interval",
            "subscription_period_count",
            "subscription_period_interval",
        ]
    missing = [name for name in required if name not in price]
    if missing:
        raise _invalid(f"price: missing {missing}")
    if not isinstance(price["price"], int) or price["price"] < 0:
        raise _invalid("price.price: a non-negative integer")
    if not re.fullmatch(r"[A-Z]{3}", str(price["currency"])):
        raise _invalid("price.currency: an ISO 4217 code in capitals")
    for name in ("payment_frequency_interval", "subscription_period_interval"):
        if name in price and price[name] not in INTERVALS:
            raise _invalid(f"price.{name}: one of {sorted(INTERVALS)}")


def _fields(body: Any, kind: str, *, required: tuple[str, ...] = ()) -> None:
    if not isinstance(body, dict):
        raise _invalid("the body is not a JSON object")
    unknown = set(body) - FIELDS[kind]
    if unknown:
        raise _invalid(f"unknown field(s) {sorted(unknown)}")
    missing = [name for name in required if body.get(name) is None]
    if missing:
        raise _invalid(f"missing field(s) {missing}")


def _metadata(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(v, (str, int, float, bool)) for v in value.values()
    ):
        raise _invalid("metadata: an object of strings, numbers or booleans")
    return dict(value)


def _limited(customer: dict[str, Any]) -> dict[str, Any]:
    return {
        k: customer.get(k) for k in ("customer_id", "email", "name", "metadata", "phone_number")
    }


def _page(items: list[dict[str, Any]], query: dict[str, str]) -> list[dict[str, Any]]:
    size = min(int(query.get("page_size", "10")), 100)
    number = int(query.get("page_number", "0"))
    return items[number * size : (number + 1) * size]


def _public(value: Any) -> Any:
    """An answer without the stand-in's own bookkeeping keys (``_…``)."""
    if isinstance(value, dict):
        return {k: _public(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [_public(v) for v in value]
    return value


def _parse(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (TypeError, ValueError, AttributeError):
        raise _invalid(f"not a date-time: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise ApiError(400, "BAD_REQUEST", "The body is not valid JSON.") from None


def _handler_for(standin: DodoStandin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, kind, answer = standin.handle(self.command, self.path, headers, body)
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def do_PATCH(self) -> None:
            self._serve()

        def do_DELETE(self) -> None:
            self._serve()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests read ``standin.requests`` instead."""

    return Handler
