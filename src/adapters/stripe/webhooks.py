"""Stripe's webhooks: verifying the ``Stripe-Signature`` header and reading the event as
a ``BillingWebhook``.

The scheme (Stripe's "Check the webhook signatures"): the header is a comma-separated
list of ``key=value`` pairs, one ``t=<Unix seconds>`` and one ``v1=<hex HMAC-SHA256>``
per active signing secret (two while a rolled secret is still valid; ``v0`` and other
schemes are ignored). The signed bytes are ``{t}.{body}``; the HMAC key is the whole
endpoint secret (``whsec_…``) as UTF-8, not decoded. One matching ``v1`` is enough.

A delivery is refused with ``InvalidBillingWebhookError`` and a ``reason``:

- ``missing-header``: no ``Stripe-Signature`` header (names matched whatever their case);
- ``malformed``: the header has no single Unix-seconds ``t``, or the verified body is not
  a Stripe event (a JSON object with ``id``, ``type``, ``created`` and
  ``data.object``);
- ``stale``: ``t`` is more than ``tolerance_seconds`` (300, Stripe's default) from
  ``now``, either way: an old one is a replay, a future one is forged;
- ``bad-signature``: no ``v1`` signature matches this body and secret.

Why not the SDK's ``stripe.Webhook.construct_event`` / ``WebhookSignature.verify_header``
(stripe 16.1): it reads the clock itself (``time.time()``), so it cannot verify at our
``Clock``'s ``now`` and tests could not move time; it only refuses old timestamps, not
future ones; and its one ``SignatureVerificationError`` tells missing, stale and wrong
apart only by its text. The scheme is a few lines of stdlib ``hmac``; the tests prove it
against the SDK's own ``WebhookSignature.generate_signature_header``.

Events and what they become (``kind``):

======================================================  ============  ==================
Stripe ``type``                                          kind          carries
======================================================  ============  ==================
``customer.subscription.*`` (created, updated,           subscription  ``subscription``
deleted, paused, resumed, trial_will_end,
pending_update_applied/expired)
``invoice.*`` on an invoice with an id (created,         invoice       ``invoice``;
finalized, paid, payment_succeeded, payment_failed,                    ``payment_failed``
voided, marked_uncollectible, updated, …), except                      for
``invoice.upcoming`` and ``invoice.deleted``                           ``payment_failed``
``checkout.session.completed`` and                       payment       ``payment``
``checkout.session.async_payment_succeeded``
in ``payment`` mode with ``payment_status=paid``
anything else (``checkout.session.completed`` of a       ignored       ``workspace_id``
subscription, ``payment_intent.*``, ``charge.*``, …)                   when the object
and any event whose object we cannot read (a status                    has it
Stripe adds later): kept, not applied
======================================================  ============  ==================

``event_id`` is the event's ``id`` (the same on every redelivery); ``occurred_at`` its
``created``. ``provider_version`` (subscriptions and invoices) is ``created`` in
microseconds plus a tie-breaker for events of one second: ``*.created`` 0, other
types 1, ``*.deleted`` 2, so a subscription's creation, its changes and its deletion
in one second still order. Two updates in the same second are not ordered by it;
billing fetches the subscription (``fetch_subscription``) when it must be sure.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

import msgspec

from adapters.stripe.objects import (
    META_WORKSPACE,
    UnreadableObjectError,
    metadata,
    read_invoice,
    read_payment,
    read_subscription,
)
from core.billing.errors import InvalidBillingWebhookError
from core.billing.payments import BillingWebhook, WebhookKind

PROVIDER: Final = "stripe"
HEADER: Final = "stripe-signature"
SCHEME: Final = "v1"
SECRET_PREFIX: Final = "whsec_"
DEFAULT_TOLERANCE_SECONDS: Final = 300
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")
_NOT_INVOICES: Final = frozenset({"invoice.upcoming", "invoice.deleted"})
_PAYMENT_EVENTS: Final = frozenset(
    {"checkout.session.completed", "checkout.session.async_payment_succeeded"}
)


# An invoice's events within one second, in the order its life goes: created, then
# finalized (open) and updated, then settled (paid, failed, voided, uncollectible).
_INVOICE_RANKS = {
    "invoice.created": 0,
    "invoice.finalized": 1,
    "invoice.updated": 1,
    "invoice.payment_failed": 2,
    "invoice.paid": 3,
    "invoice.payment_succeeded": 3,
    "invoice.voided": 3,
    "invoice.marked_uncollectible": 3,
}


def event_version(created: int, event_type: str) -> int:
    """The ``provider_version`` of an event's object (see the module docstring): the
    event's second, then its place in the object's life within that second."""
    if event_type in _INVOICE_RANKS:
        return created * 1_000_000 + _INVOICE_RANKS[event_type]
    rank = 0 if event_type.endswith(".created") else 2 if event_type.endswith(".deleted") else 1
    return created * 1_000_000 + rank


class StripeWebhookVerifier:
    """Verifies ``Stripe-Signature`` headers with the endpoint's signing secret."""

    def __init__(self, secret: str, *, tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS) -> None:
        secret = secret.strip()
        if not secret.startswith(SECRET_PREFIX) or len(secret) <= len(SECRET_PREFIX):
            raise ValueError("the Stripe webhook signing secret must start with 'whsec_'")
        if tolerance_seconds <= 0:
            raise ValueError("tolerance_seconds must be positive")
        self._key = secret.encode()
        self._tolerance = tolerance_seconds

    def __repr__(self) -> str:  # never the secret
        return f"StripeWebhookVerifier(tolerance_seconds={self._tolerance})"

    def verify(self, headers: Mapping[str, str], body: bytes, now: datetime) -> int:
        """The signing time (Unix seconds) once the signature checks out at ``now``;
        ``InvalidBillingWebhookError`` otherwise."""
        if now.utcoffset() is None:
            raise ValueError("now must be timezone-aware")
        header = next((v for k, v in headers.items() if k.lower() == HEADER), "")
        if not header.strip():
            raise _refuse("The Stripe-Signature header is missing.", "missing-header")
        timestamps: list[str] = []
        signatures: list[str] = []
        for part in header.split(","):
            key, _, value = part.strip().partition("=")
            if key == "t":
                timestamps.append(value)
            elif key == SCHEME:
                signatures.append(value)
        if len(timestamps) != 1 or not _UNIX_SECONDS.fullmatch(timestamps[0]):
            raise _refuse("The Stripe-Signature header has no single Unix time `t`.", "malformed")
        signed_at = int(timestamps[0])
        age = now.timestamp() - signed_at
        if abs(age) > self._tolerance:
            when = f"{int(age)} s ago" if age > 0 else f"{int(-age)} s in the future"
            raise _refuse(
                f"The webhook was signed {when}; at most {self._tolerance} s either way is"
                " accepted (a replay?).",
                "stale",
            )
        expected = hmac.new(self._key, f"{signed_at}.".encode() + body, hashlib.sha256)
        digest = expected.hexdigest().encode()
        if not any(hmac.compare_digest(digest, s.strip().encode()) for s in signatures):
            raise _refuse(
                f"None of the {len(signatures)} v1 signatures matches this body and the"
                " endpoint's signing secret.",
                "bad-signature",
            )
        return signed_at


def read_event(body: bytes) -> BillingWebhook:
    """A verified Stripe event as a ``BillingWebhook`` (see the module's table)."""
    try:
        event: Any = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise _refuse("The webhook body is not JSON.", "malformed") from None
    if not isinstance(event, dict):
        raise _refuse("The webhook body is not a JSON object.", "malformed")
    event_id, event_type, created = event.get("id"), event.get("type"), event.get("created")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not (isinstance(event_id, str) and event_id and isinstance(event_type, str) and event_type):
        raise _refuse("The webhook body has no event `id` and `type`.", "malformed")
    if not isinstance(created, int) or isinstance(created, bool) or not isinstance(obj, dict):
        raise _refuse("The webhook body has no `created` time or `data.object`.", "malformed")
    occurred_at = datetime.fromtimestamp(created, UTC)
    version = event_version(created, event_type)
    workspace = metadata(obj).get(META_WORKSPACE) or obj.get("client_reference_id")
    base: dict[str, Any] = {
        "provider": PROVIDER,
        "event_id": event_id,
        "type": event_type,
        "occurred_at": occurred_at,
        "workspace_id": workspace if isinstance(workspace, str) and workspace else None,
    }
    kind = obj.get("object")
    try:
        if event_type.startswith("customer.subscription.") and kind == "subscription":
            state = read_subscription(obj, version=version)
            return BillingWebhook(
                **{**base, "workspace_id": state.workspace_id},
                kind=WebhookKind.SUBSCRIPTION,
                subscription=state,
            )
        if (
            event_type.startswith("invoice.")
            and kind == "invoice"
            and event_type not in _NOT_INVOICES
            and obj.get("id")
        ):
            invoice = read_invoice(obj, version=version)
            return BillingWebhook(
                **{**base, "workspace_id": invoice.workspace_id},
                kind=WebhookKind.INVOICE,
                invoice=invoice,
                payment_failed=event_type == "invoice.payment_failed",
            )
        if (
            event_type in _PAYMENT_EVENTS
            and kind == "checkout.session"
            and obj.get("mode") == "payment"
            and obj.get("payment_status") == "paid"
        ):
            payment = read_payment(obj, paid_at=occurred_at)
            return BillingWebhook(
                **{**base, "workspace_id": payment.workspace_id},
                kind=WebhookKind.PAYMENT,
                payment=payment,
            )
    except UnreadableObjectError:
        pass  # kept as ignored: verified, but not something we can apply
    return BillingWebhook(**base, kind=WebhookKind.IGNORED)


def _refuse(detail: str, reason: str) -> InvalidBillingWebhookError:
    return InvalidBillingWebhookError(detail, reason=reason)
