"""``ResendWebhookVerifier``: checks a Resend webhook and reads it as a ``ProviderEvent``.

Resend delivers its webhooks through Svix. Every delivery carries three headers:

- ``svix-id``: the message id, the same for every retry of one event (our ``event_id``,
  on which the provider event log deduplicates);
- ``svix-timestamp``: when this attempt was sent, in Unix seconds;
- ``svix-signature``: space-separated ``v1,<base64 HMAC-SHA256>`` signatures of the
  bytes ``{svix-id}.{svix-timestamp}.{body}``, keyed with the signing secret (the base64
  after its ``whsec_`` prefix, decoded). While Resend rotates a secret, one signature
  per secret is sent; one that matches is enough.

This is Standard Webhooks byte for byte, with other header names. A delivery is refused
(``InvalidWebhookSignatureError``, with a ``detail`` and a ``reason`` code, never the
expected signature) when a header is missing, the timestamp is not Unix seconds or is
more than ``tolerance_seconds`` from ``now`` either way (an old one is a replay, a future
one is forged), no ``v1`` signature matches, or the verified body is not the JSON
object we read (``type`` and ``data`` at least).

The secret is read as Svix's libraries read it: the ``whsec_`` prefix is optional and
what follows is base64 (missing ``=`` padding tolerated). A secret that is not base64
raises ``ValueError`` when the verifier is built, so a mistyped setting stops the start
instead of refusing every webhook later.

Why not ``resend.Webhooks.verify`` (resend 2.52): it reads the clock itself
(``time.time()``) with a fixed 300 s tolerance, so it cannot take our ``Clock``'s
``now`` and tests could not move time; it takes the body as ``str`` (we sign and check
the bytes as received); it decodes the secret without validation, so a mistyped secret
gives a different key and every webhook fails as "no matching signature" rather than at
start-up; and it raises bare ``ValueError``s whose kinds can only be told apart by
their text. The scheme is twenty lines of stdlib (``hmac``, ``base64``), so it is done
here; the tests pin it to Svix's published reference vector and to the SDK's verifier.
(``core.workflows.webhook_signing`` implements the same scheme for our own outbound
webhooks; it is kept separate because it belongs to another system and uses the
``webhook-*`` header names.)

How reports map to delivery states (``status``; ``None`` = kept, not applied):

==========================  ===========  ==================================================
Resend ``type``              status       notes
==========================  ===========  ==================================================
``email.sent``               sent
``email.delivered``          delivered
``email.bounced``            bounced      ``permanent`` unless ``data.bounce.type`` is
                                          ``Transient`` (or ``Temporary``); no bounce info
                                          or ``Undetermined`` counts as permanent, as Resend
                                          documents the event as a permanent rejection
``email.complained``         complained
``email.failed``             failed       ``detail`` = ``data.failed.reason``
``email.suppressed``         failed       Resend did not send it (the address is on its
                                          own suppression list); ``detail`` says why
anything else                ``None``     ``email.delivery_delayed``, ``opened``,
                                          ``clicked``, ``scheduled``,
                                          ``received``, contact/domain/... events, types
                                          added later
==========================  ===========  ==================================================

``message_id`` is ``data.email_id`` (``""`` for events about no email, which then carry
no status); ``occurred_at`` is the event's ``created_at`` (UTC), or the Svix timestamp
when it is missing or unreadable.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

import msgspec

from core.notifications import DeliveryStatus, InvalidWebhookSignatureError, ProviderEvent

PROVIDER: Final = "resend"
DEFAULT_TOLERANCE_SECONDS: Final = 300
SECRET_PREFIX: Final = "whsec_"
SIGNATURE_VERSION: Final = "v1"
HEADER_ID: Final = "svix-id"
HEADER_TIMESTAMP: Final = "svix-timestamp"
HEADER_SIGNATURE: Final = "svix-signature"
MAX_DETAIL: Final = 500

_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")  # ASCII digits only: no sign, no fraction
_STATUSES: Final[Mapping[str, DeliveryStatus]] = {
    "email.sent": DeliveryStatus.SENT,
    "email.delivered": DeliveryStatus.DELIVERED,
    "email.bounced": DeliveryStatus.BOUNCED,
    "email.complained": DeliveryStatus.COMPLAINED,
    "email.failed": DeliveryStatus.FAILED,
    "email.suppressed": DeliveryStatus.FAILED,
}
# Bounce types that are not permanent: the OpenAPI document's ``Transient`` and the
# SDK docstring's ``Temporary``.
_SOFT_BOUNCES: Final = frozenset({"transient", "temporary"})


def signing_key(secret: str) -> bytes:
    """The HMAC key of a Resend (Svix) signing secret: the base64 after the optional
    ``whsec_`` prefix, decoded. ``ValueError`` (without the secret) when it is not one."""
    encoded = secret.strip().removeprefix(SECRET_PREFIX)
    encoded += "=" * (-len(encoded) % 4)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(
            "the Resend webhook signing secret must be 'whsec_' followed by base64"
        ) from None
    if not key:
        raise ValueError("the Resend webhook signing secret is empty")
    return key


class ResendWebhookVerifier:
    """Verifies Resend's Svix-signed webhooks and reads them as ``ProviderEvent``s."""

    provider: Final = PROVIDER

    def __init__(self, secret: str, *, tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS) -> None:
        if tolerance_seconds <= 0:
            raise ValueError("tolerance_seconds must be positive")
        self._key = signing_key(secret)
        self._tolerance = tolerance_seconds

    def __repr__(self) -> str:  # never the secret
        return f"ResendWebhookVerifier(tolerance_seconds={self._tolerance})"

    def parse(self, headers: Mapping[str, str], body: bytes, now: datetime) -> ProviderEvent:
        """The report in ``body`` once its signature checks out at ``now`` (timezone-
        aware); ``InvalidWebhookSignatureError`` otherwise. Header names are matched
        case-insensitively; ``body`` must be the bytes as received."""
        if now.utcoffset() is None:
            raise ValueError("now must be timezone-aware")
        lowered = {name.lower(): value for name, value in headers.items()}
        msg_id = _header(lowered, HEADER_ID)
        timestamp = _header(lowered, HEADER_TIMESTAMP)
        signatures = _header(lowered, HEADER_SIGNATURE)
        sent_at = self._check_timestamp(timestamp, now)
        self._check_signature(msg_id, timestamp, signatures, body)
        return read_event(msg_id, body, sent_at)

    def _check_timestamp(self, timestamp: str, now: datetime) -> datetime:
        if not _UNIX_SECONDS.fullmatch(timestamp):
            raise _refuse("The svix-timestamp header is not a Unix time in seconds.", "timestamp")
        age = now.timestamp() - int(timestamp)
        if age > self._tolerance:
            raise _refuse(
                f"The webhook was signed {int(age)} s ago; at most {self._tolerance} s is"
                " accepted (a replay?).",
                "stale",
            )
        if -age > self._tolerance:
            raise _refuse(
                f"The webhook's timestamp is {int(-age)} s in the future; at most"
                f" {self._tolerance} s is accepted.",
                "future",
            )
        return datetime.fromtimestamp(int(timestamp), UTC)

    def _check_signature(self, msg_id: str, timestamp: str, signatures: str, body: bytes) -> None:
        signed = b".".join((msg_id.encode("utf-8", "replace"), timestamp.encode(), body))
        expected = hmac.new(self._key, signed, hashlib.sha256).digest()
        candidates = 0
        for entry in signatures.split():
            version, _, value = entry.partition(",")
            if version != SIGNATURE_VERSION:
                continue  # another scheme (v1a is Svix's asymmetric one): not ours to check
            candidates += 1
            try:
                sent = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                continue
            if hmac.compare_digest(expected, sent):
                return
        if not candidates:
            raise _refuse("The svix-signature header has no v1 signature.", "signature")
        raise _refuse(
            f"None of the {candidates} v1 signatures matches this body and the signing secret.",
            "signature",
        )


def read_event(event_id: str, body: bytes, sent_at: datetime) -> ProviderEvent:
    """A verified Resend webhook body as a ``ProviderEvent`` (see the module's table);
    ``InvalidWebhookSignatureError`` when it is not the JSON object Resend sends."""
    try:
        payload: Any = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise _refuse("The webhook body is not JSON.", "payload") from None
    if not isinstance(payload, dict):
        raise _refuse("The webhook body is not a JSON object.", "payload")
    event_type = payload.get("type")
    data = payload.get("data")
    if not isinstance(event_type, str) or not event_type:
        raise _refuse("The webhook body has no `type`.", "payload")
    if not isinstance(data, dict):
        raise _refuse("The webhook body has no `data` object.", "payload")
    message_id = data.get("email_id", "")
    if not isinstance(message_id, str):
        raise _refuse("The webhook's `data.email_id` is not a string.", "payload")
    status = _STATUSES.get(event_type) if message_id else None
    permanent, detail = False, None
    if event_type == "email.bounced":
        permanent, detail = _bounce(data.get("bounce"))
    elif event_type == "email.failed":
        detail = _text(_field(data.get("failed"), "reason"))
    elif event_type == "email.suppressed":
        suppressed = data.get("suppressed")
        detail = _text(_field(suppressed, "message") or _field(suppressed, "reason"))
    return ProviderEvent(
        provider=PROVIDER,
        event_id=event_id,
        event_type=event_type,
        message_id=message_id,
        status=status,
        occurred_at=_instant(payload.get("created_at")) or sent_at,
        permanent=permanent,
        detail=detail,
    )


def _bounce(bounce: Any) -> tuple[bool, str | None]:
    """Whether a bounce is permanent, and a short reason. Without a ``type`` (or with
    ``Undetermined``) it is permanent: Resend documents ``email.bounced`` as the
    recipient's server permanently rejecting the email."""
    kind = _field(bounce, "type")
    sub_type = _field(bounce, "subType")
    message = _field(bounce, "message")
    permanent = kind.lower() not in _SOFT_BOUNCES
    label = f"{kind} bounce" if kind else ("bounce" if sub_type else "")
    if sub_type:
        label += f" ({sub_type})"
    return permanent, _text(": ".join(part for part in (label, message) if part))


def _field(value: Any, name: str) -> str:
    """``value[name]`` when ``value`` is an object and that is a string, else ``""``."""
    if isinstance(value, dict):
        found = value.get(name)
        if isinstance(found, str):
            return found.strip()
    return ""


def _text(value: str) -> str | None:
    return value[:MAX_DETAIL] or None


def _instant(value: Any) -> datetime | None:
    """An ISO 8601 timestamp as UTC (naive ones are taken as UTC); ``None`` if unreadable."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.utcoffset() is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name, "")
    if not value:
        raise _refuse(f"The {name} header is missing.", "missing-header", name)
    return value


def _refuse(detail: str, reason: str, header: str | None = None) -> InvalidWebhookSignatureError:
    """The error, with a stable ``reason`` code (``missing-header``, ``timestamp``,
    ``stale``, ``future``, ``signature``, ``payload``) and the missing header's name."""
    if header is None:
        return InvalidWebhookSignatureError(detail, provider=PROVIDER, reason=reason)
    return InvalidWebhookSignatureError(detail, provider=PROVIDER, reason=reason, header=header)
