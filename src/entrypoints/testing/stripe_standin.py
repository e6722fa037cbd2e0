"""A local stand-in for Stripe's API and back office, for testing the Stripe adapter with
the real SDK and no network.

The wire format is Stripe's: form-encoded bodies in Stripe's bracket notation
(``metadata[workspace_id]=…``, ``line_items[0][price]=…``), query strings for ``GET``,
``Authorization: Bearer <secret key>`` (401 otherwise, the key masked as Stripe masks
it), JSON answers shaped like Stripe's objects (``object``, ``id`` with Stripe's
prefixes, ``livemode``, Unix-seconds times, lists as ``{"object": "list", "data",
"has_more", "url"}``), errors as ``{"error": {"type", "code", "message", "param"}}``, a
``Request-Id`` on every answer. ``Idempotency-Key`` is honoured as Stripe does: the same
key with the same request answers the first answer again (``Idempotent-Replayed:
true``) and changes nothing; with another request, 400 ``idempotency_error``. Unknown
parameters are refused (400 ``parameter_unknown``) as Stripe refuses them, so a
misspelt field fails the test instead of being dropped.

Routes: customers, products, prices (create, list by ``lookup_keys``, update),
checkout sessions, billing portal sessions, subscriptions (retrieve, update, cancel),
invoices (list, retrieve), billing meter events (deduplicated by ``identifier``).

The back office (what Stripe does while nobody calls the API), for the harness:
``pay`` / ``decline`` a checkout session, ``renew`` / ``fail_payment`` /
``recover_payment`` a subscription. Each emits the events Stripe would, as JSON bodies
signed with a real ``Stripe-Signature`` header (one ``v1`` per webhook secret), which
``webhooks()`` hands over, oldest first. Time is the stand-in's own settable clock
(``now``; ``advance``); renewals move it to the period's end.

Usage::

    with StripeStandin() as standin:
        provider = StripePaymentProvider(api_key=standin.api_key,
            webhook_secret=standin.webhook_secret, base_url=standin.url,
            clock=lambda: standin.now)
        ...
        standin.pay(session.id)
        for headers, body in standin.webhooks(): ...
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import msgspec

from entrypoints.testing import stripe_standin_objects as shapes
from entrypoints.testing.standin_server import ServedInThread
from entrypoints.testing.stripe_standin_api import Obj, StripeApi
from entrypoints.testing.stripe_standin_objects import add_interval, new_id, signature_header
from entrypoints.testing.stripe_standin_rules import ROUTES, StripeError, check_params, decode_form

DEFAULT_API_KEY = "sk_test_ninefoldStandin0123456789abcdefXYZ"
DEFAULT_WEBHOOK_SECRET = "whsec_ninefoldStandinSigningSecret0123456789"
Delivery = tuple[dict[str, str], bytes]

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_WEBHOOK_SECRET",
    "Delivery",
    "StandinRequest",
    "StripeStandin",
    "signature_header",
]


class StandinRequest(msgspec.Struct, frozen=True, kw_only=True):
    """One API request as received (headers lower-cased), with the status answered."""

    method: str
    path: str
    headers: dict[str, str]
    params: dict[str, Any]
    status: int


class StripeStandin(ServedInThread, StripeApi):
    thread_name = "stripe-standin"

    """A threaded HTTP server on 127.0.0.1 (a free port) that plays Stripe."""

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        webhook_secrets: Sequence[str] = (DEFAULT_WEBHOOK_SECRET,),
        now: datetime | None = None,
    ) -> None:
        self.api_key = api_key
        self.webhook_secrets = list(webhook_secrets)
        self._now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
        self.objects: dict[str, dict[str, Any]] = {}
        self.requests: list[StandinRequest] = []
        self.events: list[dict[str, Any]] = []
        self.meter_events: dict[str, dict[str, Any]] = {}
        self._deliveries: list[Delivery] = []
        self._failures: list[tuple[int, dict[str, str]]] = []
        self._answers: dict[str, tuple[str, int, bytes]] = {}
        self._checkout: dict[str, dict[str, Any]] = {}  # what a session was created with
        self._pending: dict[str, int] = {}  # prorations owed on a subscription's next invoice
        self._request: dict[str, Any] = {"id": None, "idempotency_key": None}
        self._api_version: str | None = None
        self._lock = threading.RLock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- running -------------------------------------------------------------------------

    @property
    def webhook_secret(self) -> str:
        return self.webhook_secrets[0]

    # -- the clock, failures, webhooks, usage ---------------------------------------------

    @property
    def now(self) -> datetime:
        return self._now

    @now.setter
    def now(self, value: datetime) -> None:
        if value.utcoffset() is None:
            raise ValueError("now must be timezone-aware")
        self._now = value.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        self.now = self._now + delta

    @property
    def _ts(self) -> int:
        return int(self._now.timestamp())

    def fail_next(self, status: int, *, headers: Mapping[str, str] | None = None) -> None:
        """Answer the next API request with HTTP ``status`` and Stripe's error for it."""
        with self._lock:
            self._failures.append((status, dict(headers or {})))

    def webhooks(self) -> list[Delivery]:
        """The signed deliveries sent since the last call, oldest first."""
        with self._lock:
            sent, self._deliveries = self._deliveries, []
        return sent

    def sign(self, body: bytes, at: datetime) -> dict[str, str]:
        header = signature_header(body, self.webhook_secrets, int(at.timestamp()))
        return {"Stripe-Signature": header, "Content-Type": "application/json; charset=utf-8"}

    def event_body(self, event_type: str, obj: Mapping[str, Any]) -> bytes:
        """A Stripe event body of any type about ``obj`` (not recorded, not sent)."""
        event = shapes.event(
            self._ts, event_type, dict(obj), previous=None, api_version=None, request={}
        )
        return json.dumps(event, indent=2).encode()

    def usage_total(self, customer_id: str, meter: str) -> int:
        with self._lock:
            return sum(
                int(e["payload"]["value"])
                for e in self.meter_events.values()
                if e["event_name"] == meter and e["payload"]["stripe_customer_id"] == customer_id
            )

    # -- the back office -----------------------------------------------------------------

    def pay(self, session_id: str) -> None:
        """The customer completes the checkout with a card that works."""
        with self._lock:
            session = self._open_session(session_id)
            made = self._checkout[session_id]
            price = self.objects[made["price"]]
            quantity = made["quantity"]
            session.update(
                status="complete",
                payment_status="paid",
                currency=price["currency"],
                amount_subtotal=price["unit_amount"] * quantity,
                amount_total=price["unit_amount"] * quantity,
                customer_details={"email": self.objects[session["customer"]]["email"]},
            )
            if session["mode"] == "payment":
                intent = shapes.payment_intent(self._ts, session, made["payment_intent_metadata"])
                self.objects[intent["id"]] = intent
                session["payment_intent"] = intent["id"]
                self._emit("payment_intent.succeeded", intent)
            else:
                self._start_subscription(session, made, price, quantity)
            self._emit("checkout.session.completed", session)

    def decline(self, session_id: str) -> None:
        """The card is declined and the customer gives up: the session expires unpaid."""
        with self._lock:
            session = self._open_session(session_id)
            session["status"] = "expired"
            self._emit("checkout.session.expired", session)

    def renew(self, subscription_id: str) -> None:
        """The period ends now and the renewal invoice is paid."""
        with self._lock:
            self._cycle(self._get("subscription", subscription_id), paid=True)

    def fail_payment(self, subscription_id: str) -> None:
        """The period ends now, the renewal's payment fails: past_due."""
        with self._lock:
            self._cycle(self._get("subscription", subscription_id), paid=False)

    def recover_payment(self, subscription_id: str) -> None:
        """The open invoice is paid at last: active again."""
        with self._lock:
            subscription = self._get("subscription", subscription_id)
            invoice = self.objects.get(subscription.get("latest_invoice") or "")
            if invoice is None or invoice["status"] != "open":
                raise ValueError(f"{subscription_id} owes no invoice")
            self._pay_invoice(invoice)
            self._set_status(subscription, "active")

    # -- back-office internals -----------------------------------------------------------

    def _open_session(self, session_id: str) -> Obj:
        session = self._get("checkout.session", session_id)
        if session["status"] != "open":
            raise ValueError(f"the session {session_id} is {session['status']}")
        return session

    def _start_subscription(self, session: Obj, made: Obj, price: Obj, quantity: int) -> None:
        """Checkout's subscription: created incomplete, its first invoice paid, then
        active (or trialing at once, with a zero invoice)."""
        trial_days = made["trial_period_days"]
        end = (
            self._now + timedelta(days=trial_days)
            if trial_days
            else add_interval(self._now, price["recurring"]["interval"])
        )
        subscription = shapes.subscription(
            self._ts,
            customer_id=session["customer"],
            price_=price,
            quantity=quantity,
            period_end=int(end.timestamp()),
            trial=bool(trial_days),
            metadata=made["subscription_metadata"],
        )
        self.objects[subscription["id"]] = subscription
        self._emit("customer.subscription.created", subscription)
        amount = 0 if trial_days else price["unit_amount"] * quantity
        invoice = self._invoice(subscription, amount, "subscription_create")
        self._pay_invoice(invoice)
        session.update(subscription=subscription["id"], invoice=invoice["id"])
        if trial_days:
            session["payment_status"] = "no_payment_required"
        else:
            self._set_status(subscription, "active")

    def _cycle(self, subscription: Obj, *, paid: bool) -> None:
        """The period ends (the clock moves to its end): the subscription ends if it was
        to, else the next period starts and its invoice is paid or fails."""
        if subscription["status"] in ("canceled", "incomplete_expired"):
            raise ValueError(f"{subscription['id']} is {subscription['status']}")
        item = subscription["items"]["data"][0]
        end = datetime.fromtimestamp(item["current_period_end"], UTC)
        self.now = max(self._now, end)
        if subscription["cancel_at_period_end"]:
            self._end(subscription)
            return
        previous = {"items": copy.deepcopy(subscription["items"]), "status": subscription["status"]}
        new_end = add_interval(end, item["price"]["recurring"]["interval"])
        item["current_period_start"] = item["current_period_end"]
        item["current_period_end"] = int(new_end.timestamp())
        amount = item["price"]["unit_amount"] * item["quantity"]
        amount += self._pending.pop(subscription["id"], 0)
        invoice = self._invoice(subscription, amount, "subscription_cycle")
        if paid:
            self._pay_invoice(invoice)
            subscription["status"] = "active"
        else:
            invoice.update(attempt_count=1, attempted=True)
            invoice["next_payment_attempt"] = self._ts + 3 * 86_400
            self._emit("invoice.payment_failed", invoice)
            subscription["status"] = "past_due"
        self._emit("customer.subscription.updated", subscription, previous)

    def _set_status(self, subscription: Obj, status: str) -> None:
        previous = {"status": subscription["status"]}
        if previous["status"] != status:
            subscription["status"] = status
            self._emit("customer.subscription.updated", subscription, previous)

    def _end(self, subscription: Obj) -> None:
        subscription.update(status="canceled", ended_at=self._ts, cancel_at_period_end=False)
        subscription["canceled_at"] = subscription["canceled_at"] or self._ts
        self._emit("customer.subscription.deleted", subscription)

    def _invoice(self, subscription: Obj, amount: int, reason: str) -> Obj:
        """A finalized (open) invoice of ``amount`` for the subscription's item."""
        invoice = shapes.invoice(
            self._ts,
            self.url,
            subscription_=subscription,
            customer_=self.objects[subscription["customer"]],
            amount=amount,
            reason=reason,
        )
        self.objects[invoice["id"]] = invoice
        subscription["latest_invoice"] = invoice["id"]
        self._emit("invoice.created", {**invoice, "status": "draft", "number": None})
        self._emit("invoice.finalized", invoice)
        return invoice

    def _pay_invoice(self, invoice: Obj) -> None:
        invoice.update(
            status="paid",
            amount_paid=invoice["amount_due"],
            amount_remaining=0,
            attempted=True,
            next_payment_attempt=None,
        )
        invoice["attempt_count"] += 1
        invoice["status_transitions"]["paid_at"] = self._ts
        self._emit("invoice.paid", invoice)
        self._emit("invoice.payment_succeeded", invoice)

    def _emit(self, event_type: str, obj: Obj, previous: Obj | None = None) -> None:
        """Record the event and queue its signed delivery."""
        event = shapes.event(
            self._ts,
            event_type,
            obj,
            previous=previous,
            api_version=self._api_version,
            request=self._request,
        )
        self.events.append(event)
        body = json.dumps(event, indent=2).encode()
        headers = self.sign(body, self._now)
        headers["User-Agent"] = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
        self._deliveries.append((headers, body))

    # -- the API -------------------------------------------------------------------------

    def handle(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """Answer one API request: status, extra headers, JSON body."""
        split = urlsplit(target)
        path = split.path
        raw = split.query if method in ("GET", "DELETE") and not body else body.decode()
        extra = {"Request-Id": new_id("req_", 14)}
        params: dict[str, Any] = {}
        with self._lock:
            try:
                params = decode_form(raw)
                status, answer = self._answer(
                    method, path, headers=headers, params=params, raw=raw, extra=extra
                )
            except StripeError as error:
                status, answer = error.status, error.body()
                extra.update(error.headers)
            self.requests.append(
                StandinRequest(
                    method=method, path=path, headers=dict(headers), params=params, status=status
                )
            )
        return status, extra, answer

    def _answer(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str],
        params: dict[str, Any],
        raw: str,
        extra: dict[str, str],
    ) -> tuple[int, bytes]:
        self._authorize(headers.get("authorization", ""))
        if self._failures:
            status, failure_headers = self._failures.pop(0)
            raise StripeError.for_status(status, failure_headers)
        key = headers.get("idempotency-key")
        fingerprint = f"{method} {path} {sorted(parse_qsl(raw, keep_blank_values=True))}"
        if key and method in ("POST", "DELETE"):
            known = self._answers.get(key)
            if known is not None:
                if known[0] != fingerprint:
                    raise StripeError(
                        400,
                        "idempotency_error",
                        "Keys for idempotent requests can only be used with the same"
                        " parameters they were first used with. Try using a key other than"
                        f" '{key}' if you meant to execute a different request.",
                    )
                extra["Idempotent-Replayed"] = "true"
                return known[1], known[2]
        self._api_version = headers.get("stripe-version") or self._api_version
        self._request = {"id": extra["Request-Id"], "idempotency_key": key}
        try:
            for route_method, pattern, handler, allowed in ROUTES:
                match = pattern.fullmatch(path)
                if match and route_method == method:
                    check_params(params, allowed)
                    answer = json.dumps(getattr(self, handler)(params, *match.groups())).encode()
                    break
            else:
                raise StripeError(
                    404,
                    "invalid_request_error",
                    f"Unrecognized request URL ({method}: {path}).",
                )
        finally:
            self._request = {"id": None, "idempotency_key": None}
        if key and method in ("POST", "DELETE"):
            self._answers[key] = (fingerprint, 200, answer)
        return 200, answer

    def _authorize(self, value: str) -> None:
        if not value.startswith("Bearer ") or not value[7:].strip():
            raise StripeError(
                401,
                "invalid_request_error",
                "You did not provide an API key. You need to provide your API key in the"
                " Authorization header, using Bearer auth.",
            )
        given = value[7:].strip()
        if given != self.api_key:
            prefix = given[: given.find("_", 3) + 1] if given.count("_") >= 2 else ""
            masked = prefix + "*" * max(0, len(given) - len(prefix) - 4) + given[-4:]
            raise StripeError(
                401, "invalid_request_error", f"Invalid API Key provided: {masked}",
                code="api_key_invalid",
            )  # fmt: skip


def _handler_for(standin: StripeStandin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as Stripe's API
        disable_nagle_algorithm = True  # headers and body go out at once, no 40 ms stalls

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, extra, answer = standin.handle(self.command, self.path, headers, body)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(answer)

        do_GET = do_POST = do_DELETE = _serve  # noqa: N815 (http.server's names)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def iter_events(deliveries: Sequence[Delivery]) -> Iterator[dict[str, Any]]:
    """The events in deliveries, decoded (for assertions)."""
    for _, body in deliveries:
        yield json.loads(body)
