"""Signing outbound webhooks the Standard Webhooks way (https://www.standardwebhooks.com).

Every delivery carries three headers:

- ``webhook-id``: the message id, the same for every attempt of one event to one
  endpoint (receivers deduplicate on it);
- ``webhook-timestamp``: when this attempt was sent, in Unix seconds;
- ``webhook-signature``: ``v1,<base64 HMAC-SHA256>`` of ``"{id}.{timestamp}.{body}"``
  keyed with the endpoint's secret, the base64 part of ``whsec_…`` decoded. While a
  rotated-out secret is still valid, one signature per secret, separated by spaces.

``verify`` is what a receiver runs (and what our tests run): it checks the timestamp is
recent and that one of the signatures matches, in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24
SIGNATURE_VERSION = "v1"
DEFAULT_TOLERANCE_SECONDS = 5 * 60
_MESSAGE_ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"

HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"


class WebhookVerificationError(Exception):
    """A delivery whose headers or signature do not check out."""


def generate_secret() -> str:
    """A new endpoint secret: ``whsec_`` and the base64 of 24 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_…`` secret (its base64 part, decoded)."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("a webhook secret is 'whsec_' followed by base64") from exc


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature of ``body`` sent as ``message_id`` at ``timestamp``."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def signature_header(
    signing_secrets: Iterable[str], message_id: str, timestamp: int, body: bytes
) -> str:
    """The ``webhook-signature`` value: one signature per secret, space-separated."""
    return " ".join(sign(secret, message_id, timestamp, body) for secret in signing_secrets)


def signed_headers(
    signing_secrets: Iterable[str], message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers of one attempt."""
    return {
        HEADER_ID: message_id,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: signature_header(signing_secrets, message_id, timestamp, body),
    }


def message_id(event_id: str, endpoint_id: str) -> str:
    """The ``webhook-id`` of an event sent to an endpoint: ``msg_`` and 26 characters, the
    event id's time part then a digest of both ids. Stable across retries and
    redeliveries, different for each endpoint."""
    time_part = event_id.rpartition("_")[2][:10]
    digest = hashlib.sha256(f"{event_id}:{endpoint_id}".encode()).digest()
    value = int.from_bytes(digest[:10], "big")
    chars = []
    for _ in range(26 - len(time_part)):
        chars.append(_MESSAGE_ID_ALPHABET[value & 31])
        value >>= 5
    return "msg_" + time_part + "".join(chars)


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> None:
    """Check a delivery as a receiver must; ``WebhookVerificationError`` unless one of its
    ``v1`` signatures is ``secret``'s and its timestamp is within ``tolerance_seconds``
    of ``now`` (either way: old ones are replays, future ones are forged).

    ``headers`` is matched case-insensitively."""
    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        msg_id = lowered[HEADER_ID]
        timestamp_text = lowered[HEADER_TIMESTAMP]
        signatures = lowered[HEADER_SIGNATURE]
    except KeyError as exc:
        raise WebhookVerificationError(f"missing the {exc.args[0]} header") from exc
    try:
        timestamp = int(timestamp_text)
    except ValueError as exc:
        raise WebhookVerificationError("webhook-timestamp is not a whole number") from exc
    if abs(now.timestamp() - timestamp) > tolerance_seconds:
        raise WebhookVerificationError("webhook-timestamp is too far from now")
    expected = sign(secret, msg_id, timestamp, body).partition(",")[2]
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version == SIGNATURE_VERSION and hmac.compare_digest(value, expected):
            return
    raise WebhookVerificationError("no signature matches the secret")
