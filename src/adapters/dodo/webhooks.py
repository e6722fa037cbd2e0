"""``DodoWebhookVerifier``: checks a Dodo Payments webhook (Standard Webhooks) and reads
it as a ``BillingWebhook``.

Dodo signs its webhooks with Standard Webhooks. Every delivery carries three headers:

- ``webhook-id``: the message id, the same on every redelivery of one event (our
  ``event_id``, on which billing deduplicates);
- ``webhook-timestamp``: when this attempt was signed, in Unix seconds;
- ``webhook-signature``: space-separated ``v1,<base64 HMAC-SHA256>`` signatures of the
  bytes ``{webhook-id}.{webhook-timestamp}.{body}``, keyed with the signing secret (the
  base64 after its ``whsec_`` prefix, decoded). While a secret is rotated one signature
  per secret is sent; one that matches is enough.

A delivery is refused with ``InvalidBillingWebhookError`` (a ``detail`` that never shows
the expected signature, and a ``reason``) when:

- ``missing-header``: one of the three headers is missing or empty;
- ``stale``: the timestamp is more than ``tolerance_seconds`` (300) from ``now``, either
  way (an old one is a replay, a future one forged or from a skewed clock);
- ``bad-signature``: no ``v1`` signature matches;
- ``malformed``: the timestamp is not Unix seconds, or the verified body is not the JSON
  object Dodo sends (``type``, ``timestamp``, ``data``), or an event we apply lacks a
  field we need.

``now`` is our ``Clock``'s, so tests can move time. Why not ``standardwebhooks.Webhook``
(which the SDK's ``client.webhooks.unwrap`` calls): it reads ``datetime.now()`` itself, so
it cannot be checked at our clock's time; it raises one ``WebhookVerificationError`` for
every kind of refusal (told apart only by text); and it takes the body as ``str``. The
scheme is a few lines of stdlib; the tests prove it against ``standardwebhooks``'s own
signatures and prove that the SDK accepts what the stand-in signs.

How events map (``type`` -> ``kind``):

================================================  ===========  ===========================
Dodo ``type``                                      kind         notes
================================================  ===========  ===========================
``subscription.active`` / ``renewed`` /            subscription  the state from ``data``;
``plan_changed`` / ``updated`` / ``paused`` /                    ``payment_failed`` for
``unpaused`` / ``cancelled`` / ``expired`` /                     ``on_hold``, ``past_due``,
``on_hold`` / ``past_due`` / ``failed``                          ``failed``
``payment.succeeded`` / ``payment.failed`` of a   invoice      the payment as an invoice;
subscription                                                    ``payment_failed`` for
                                                                ``payment.failed``
``payment.succeeded`` of no subscription          payment      a one-off purchase
anything else                                      ignored      ``payment.processing``,
                                                                ``payment.cancelled``, a
                                                                one-off ``payment.failed``,
                                                                refunds, disputes, license
                                                                keys, credits, types added
                                                                later
================================================  ===========  ===========================

``occurred_at`` is the body's ``timestamp`` (when the event happened at Dodo, the same on
every redelivery) and ``provider_version`` is that instant in microseconds. Views read
from the API get the adapter's clock instead (``payments.py``); the two orders agree as
long as our clock and Dodo's agree, and billing keeps the stored state on a tie.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import msgspec

from adapters.dodo.mapping import (
    UnreadableObjectError,
    instant,
    invoice,
    one_off_payment,
    subscription_of,
    subscription_state,
    version_of,
    workspace_of,
)
from core.billing.errors import InvalidBillingWebhookError
from core.billing.payments import BillingWebhook, WebhookKind

PROVIDER: Final = "dodo"
DEFAULT_TOLERANCE_SECONDS: Final = 300
SECRET_PREFIX: Final = "whsec_"
SIGNATURE_VERSION: Final = "v1"
HEADER_ID: Final = "webhook-id"
HEADER_TIMESTAMP: Final = "webhook-timestamp"
HEADER_SIGNATURE: Final = "webhook-signature"

SUBSCRIPTION_EVENTS: Final = frozenset(
    {
        "subscription.active",
        "subscription.renewed",
        "subscription.plan_changed",
        "subscription.updated",
        "subscription.paused",
        "subscription.unpaused",
        "subscription.cancelled",
        "subscription.expired",
        "subscription.on_hold",
        "subscription.past_due",
        "subscription.failed",
    }
)
FAILED_PAYMENT_EVENTS: Final = frozenset(
    {"subscription.on_hold", "subscription.past_due", "subscription.failed", "payment.failed"}
)
PAYMENT_EVENTS: Final = frozenset({"payment.succeeded", "payment.failed"})

_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")  # ASCII digits only: no sign, no fraction


def signing_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret: the base64 after the optional
    ``whsec_`` prefix, decoded. ``ValueError`` (without the secret) when it is not one."""
    encoded = secret.strip().removeprefix(SECRET_PREFIX)
    encoded += "=" * (-len(encoded) % 4)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the Dodo webhook secret must be 'whsec_' followed by base64") from None
    if not key:
        raise ValueError("the Dodo webhook secret is empty")
    return key


class DodoWebhookVerifier:
    """Verifies Dodo's Standard Webhooks deliveries and reads them as ``BillingWebhook``s."""

    def __init__(self, secret: str, *, tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS) -> None:
        if tolerance_seconds <= 0:
            raise ValueError("tolerance_seconds must be positive")
        self._key = signing_key(secret)
        self._tolerance = tolerance_seconds

    def __repr__(self) -> str:  # never the secret
        return f"DodoWebhookVerifier(tolerance_seconds={self._tolerance})"

    def parse(self, headers: Mapping[str, str], body: bytes, *, now: datetime) -> BillingWebhook:
        """The event in ``body`` once its signature checks out at ``now`` (timezone-aware);
        ``InvalidBillingWebhookError`` otherwise. Header names are matched
        case-insensitively; ``body`` must be the bytes as received."""
        if now.utcoffset() is None:
            raise ValueError("now must be timezone-aware")
        lowered = {name.lower(): value for name, value in headers.items()}
        msg_id = _header(lowered, HEADER_ID)
        timestamp = _header(lowered, HEADER_TIMESTAMP)
        signatures = _header(lowered, HEADER_SIGNATURE)
        self._check_timestamp(timestamp, now)
        self._check_signature(msg_id, timestamp, signatures, body)
        return read_event(msg_id, body)

    def _check_timestamp(self, timestamp: str, now: datetime) -> None:
        if not _UNIX_SECONDS.fullmatch(timestamp):
            raise _refuse(
                "The webhook-timestamp header is not a Unix time in seconds.", "malformed"
            )
        age = now.timestamp() - int(timestamp)
        if abs(age) > self._tolerance:
            when = f"{int(age)} s ago" if age > 0 else f"{int(-age)} s in the future"
            raise _refuse(
                f"The webhook was signed {when}; at most {self._tolerance} s either way is"
                " accepted.",
                "stale",
            )

    def _check_signature(self, msg_id: str, timestamp: str, signatures: str, body: bytes) -> None:
        signed = b".".join((msg_id.encode("utf-8", "replace"), timestamp.encode(), body))
        expected = hmac.new(self._key, signed, hashlib.sha256).digest()
        candidates = 0
        for entry in signatures.split():
            version, _, value = entry.partition(",")
            if version != SIGNATURE_VERSION:
                continue  # another scheme (v1a is the asymmetric one): not ours to check
            candidates += 1
            try:
                sent = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                continue
            if hmac.compare_digest(expected, sent):
                return
        if not candidates:
            raise _refuse("The webhook-signature header has no v1 signature.", "bad-signature")
        raise _refuse(
            f"None of the {candidates} v1 signatures matches this body and the secret.",
            "bad-signature",
        )


def read_event(event_id: str, body: bytes) -> BillingWebhook:
    """A verified Dodo webhook body as a ``BillingWebhook`` (see the module's table)."""
    try:
        payload: Any = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise _refuse("The webhook body is not JSON.", "malformed") from None
    if not isinstance(payload, dict):
        raise _refuse("The webhook body is not a JSON object.", "malformed")
    event_type = payload.get("type")
    data = payload.get("data")
    occurred_at = instant(payload.get("timestamp"))
    if not isinstance(event_type, str) or not event_type:
        raise _refuse("The webhook body has no `type`.", "malformed")
    if not isinstance(data, dict):
        raise _refuse("The webhook body has no `data` object.", "malformed")
    if occurred_at is None:
        raise _refuse("The webhook body has no readable `timestamp`.", "malformed")
    version = version_of(occurred_at)
    base: dict[str, Any] = {
        "provider": PROVIDER,
        "event_id": event_id,
        "type": event_type,
        "occurred_at": occurred_at,
        "workspace_id": workspace_of(data),
        "payment_failed": event_type in FAILED_PAYMENT_EVENTS,
    }
    try:
        if event_type in SUBSCRIPTION_EVENTS:
            state = subscription_state(data, version=version, at=occurred_at)
            return BillingWebhook(kind=WebhookKind.SUBSCRIPTION, subscription=state, **base)
        if event_type in PAYMENT_EVENTS and subscription_of(data) is not None:
            bill = invoice(data, version=version)
            return BillingWebhook(kind=WebhookKind.INVOICE, invoice=bill, **base)
        if event_type == "payment.succeeded":
            paid = one_off_payment(data)
            return BillingWebhook(kind=WebhookKind.PAYMENT, payment=paid, **base)
    except UnreadableObjectError as error:
        raise _refuse(f"The {event_type} event cannot be read: {error}.", "malformed") from None
    return BillingWebhook(kind=WebhookKind.IGNORED, **{**base, "payment_failed": False})


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name, "").strip()
    if not value:
        raise _refuse(f"The {name} header is missing.", "missing-header")
    return value


def _refuse(detail: str, reason: str) -> InvalidBillingWebhookError:
    return InvalidBillingWebhookError(detail, reason=reason)
