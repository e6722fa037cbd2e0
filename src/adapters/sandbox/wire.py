"""The sandbox's webhooks on the wire: its event vocabulary, the JSON it sends, the
Standard Webhooks signature it signs them with, and reading them back as
``BillingWebhook``s.

A delivery's body is one JSON object::

    {"id": "evt_…", "type": "invoice.paid", "created": "2030-01-01T00:00:00Z",
     "livemode": false, "data": {"object": "invoice", …}}

``data`` is the object the event is about, its fields named like the port's structs
(``SubscriptionState``, ``ProviderInvoice``, ``OneOffPayment``) plus ``object``.

The vocabulary (``type`` → what billing reads):

=========================  ==============  ============================================
type                       kind            when
=========================  ==============  ============================================
``subscription.created``   subscription    a checkout was paid (or its trial began)
``subscription.updated``   subscription    any change: renewal, plan, quantity, a
                                           scheduled or withdrawn cancellation, past
                                           due, unpaid, recovered
``subscription.canceled``  subscription    it ended (at once or at its period's end)
``invoice.paid``           invoice         an invoice was paid
``invoice.payment_failed`` invoice         a charge was declined (``payment_failed``)
``invoice.voided``         invoice         an open invoice of a canceled subscription
``payment.succeeded``      payment         a one-off purchase was paid
``customer.created``       ignored         a customer was created
``customer.updated``       ignored         its card was set to work or decline
``checkout.completed``     ignored         a checkout was paid (its subscription or
                                           payment has its own event)
``checkout.declined``      ignored         the customer declined the checkout
``checkout.expired``       ignored         an open checkout reached its 24 hours
anything else              ignored
=========================  ==============  ============================================

Headers (Standard Webhooks, ``core.workflows.webhook_signing``): ``webhook-id`` (the
event id, the same on every redelivery), ``webhook-timestamp`` (Unix seconds of this
attempt) and ``webhook-signature`` (``v1,<base64 HMAC-SHA256>`` of
``{id}.{timestamp}.{body}`` keyed with the sandbox's ``whsec_…`` secret). ``verify``
refuses with ``InvalidBillingWebhookError`` and a reason: ``missing-header``,
``malformed`` (a timestamp that is not a whole number, a body that is not an event),
``stale`` (more than 300 s from ``now`` either way), ``bad-signature``.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import msgspec

from core.billing.errors import InvalidBillingWebhookError
from core.billing.payments import (
    BillingWebhook,
    OneOffPayment,
    ProviderInvoice,
    SubscriptionState,
    WebhookKind,
)
from core.kernel.events import AwareDatetime
from core.workflows import webhook_signing

PROVIDER: Final = "sandbox"
TOLERANCE_SECONDS: Final = 300

SUBSCRIPTION_CREATED: Final = "subscription.created"
SUBSCRIPTION_UPDATED: Final = "subscription.updated"
SUBSCRIPTION_CANCELED: Final = "subscription.canceled"
INVOICE_PAID: Final = "invoice.paid"
INVOICE_PAYMENT_FAILED: Final = "invoice.payment_failed"
INVOICE_VOIDED: Final = "invoice.voided"
PAYMENT_SUCCEEDED: Final = "payment.succeeded"
CUSTOMER_CREATED: Final = "customer.created"
CUSTOMER_UPDATED: Final = "customer.updated"
CHECKOUT_COMPLETED: Final = "checkout.completed"
CHECKOUT_DECLINED: Final = "checkout.declined"
CHECKOUT_EXPIRED: Final = "checkout.expired"

SUBSCRIPTION_TYPES: Final = frozenset(
    {SUBSCRIPTION_CREATED, SUBSCRIPTION_UPDATED, SUBSCRIPTION_CANCELED}
)
INVOICE_TYPES: Final = frozenset({INVOICE_PAID, INVOICE_PAYMENT_FAILED, INVOICE_VOIDED})
PAYMENT_TYPES: Final = frozenset({PAYMENT_SUCCEEDED})

_encode = msgspec.json.Encoder().encode


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    type: str
    created: AwareDatetime
    livemode: bool = False
    data: msgspec.Raw = msgspec.Raw(b"{}")


def event_body(event_id: str, event_type: str, created: datetime, data: Mapping[str, Any]) -> str:
    """The JSON body of an outgoing event."""
    return _encode(
        {
            "id": event_id,
            "type": event_type,
            "created": created,
            "livemode": False,
            "data": data,
        }
    ).decode()


def object_data(kind: str, value: msgspec.Struct) -> dict[str, Any]:
    """``value`` as an event's ``data``: its fields and ``object``."""
    return {"object": kind, **msgspec.to_builtins(value)}


def check_secret(secret: str) -> None:
    """``ValueError`` (without the secret) unless it is ``whsec_`` and base64."""
    webhook_signing.secret_key(secret)


def sign(secret: str, body: bytes, *, event_id: str, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers of ``body`` sent as ``event_id`` at ``at``."""
    return webhook_signing.signed_headers([secret], event_id, int(at.timestamp()), body)


def verify(secret: str, headers: Mapping[str, str], body: bytes, *, now: datetime) -> None:
    lowered = {name.lower(): value for name, value in headers.items()}
    names = (
        webhook_signing.HEADER_ID,
        webhook_signing.HEADER_TIMESTAMP,
        webhook_signing.HEADER_SIGNATURE,
    )
    missing = [name for name in names if not lowered.get(name)]
    if missing:
        raise InvalidBillingWebhookError(
            f"missing the {', '.join(missing)} header(s)", reason="missing-header"
        )
    message_id, timestamp_text, signatures = (lowered[name] for name in names)
    if not timestamp_text.isascii() or not timestamp_text.isdigit():
        raise InvalidBillingWebhookError(
            "webhook-timestamp is not Unix seconds", reason="malformed"
        )
    timestamp = int(timestamp_text)
    if abs(now.timestamp() - timestamp) > TOLERANCE_SECONDS:
        raise InvalidBillingWebhookError(
            f"webhook-timestamp is more than {TOLERANCE_SECONDS} s from now", reason="stale"
        )
    expected = webhook_signing.sign(secret, message_id, timestamp, body).partition(",")[2]
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version == webhook_signing.SIGNATURE_VERSION and hmac.compare_digest(
            value.encode(), expected.encode()
        ):
            return
    raise InvalidBillingWebhookError("no signature matches", reason="bad-signature")


def read_event(body: bytes) -> BillingWebhook:
    """A verified body as a ``BillingWebhook`` (``malformed`` when it is not one)."""
    try:
        envelope = msgspec.json.decode(body, type=Envelope)
        subscription = invoice = payment = None
        if envelope.type in SUBSCRIPTION_TYPES:
            kind = WebhookKind.SUBSCRIPTION
            subscription = msgspec.json.decode(envelope.data, type=SubscriptionState)
            workspace = subscription.workspace_id
        elif envelope.type in INVOICE_TYPES:
            kind = WebhookKind.INVOICE
            invoice = msgspec.json.decode(envelope.data, type=ProviderInvoice)
            workspace = invoice.workspace_id
        elif envelope.type in PAYMENT_TYPES:
            kind = WebhookKind.PAYMENT
            payment = msgspec.json.decode(envelope.data, type=OneOffPayment)
            workspace = payment.workspace_id
        else:
            kind = WebhookKind.IGNORED
            workspace = _workspace_of(envelope.data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise InvalidBillingWebhookError(
            f"the body is not a sandbox event: {exc}", reason="malformed"
        ) from None
    return BillingWebhook(
        provider=PROVIDER,
        event_id=envelope.id,
        type=envelope.type,
        kind=kind,
        occurred_at=envelope.created,
        workspace_id=workspace,
        subscription=subscription,
        invoice=invoice,
        payment=payment,
        payment_failed=envelope.type == INVOICE_PAYMENT_FAILED,
    )


def _workspace_of(data: msgspec.Raw) -> str | None:
    try:
        value = msgspec.json.decode(data)
    except msgspec.DecodeError:
        return None
    workspace = value.get("workspace_id") if isinstance(value, dict) else None
    return workspace if isinstance(workspace, str) else None
