"""One-click unsubscribe tokens: who, which category, which channel, signed with the
application's secret, so the link works without signing in (RFC 8058) and cannot be
forged or pointed at someone else.

A token is ``<payload>.<signature>``, both base64url: the payload is
``v1:<user id>:<category>:<channel>``, the signature its HMAC-SHA256 under a key
derived from the secret for this purpose only. Tokens do not expire: a person must be
able to unsubscribe from an old message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import msgspec

from core.notifications.catalog import Channel
from core.notifications.errors import InvalidUnsubscribeTokenError

_VERSION = "v1"
TOKEN_MAX_LENGTH = 512


class Unsubscribe(msgspec.Struct, frozen=True):
    user_id: str
    category: str
    channel: Channel


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class UnsubscribeTokens:
    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("unsubscribe tokens need a secret")
        purpose = b"ninefold.notifications.unsubscribe"
        self._key = hmac.new(secret.encode(), purpose, hashlib.sha256).digest()

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()

    def make(self, user_id: str, category: str, channel: Channel) -> str:
        payload = f"{_VERSION}:{user_id}:{category}:{channel.value}".encode()
        return f"{_b64(payload)}.{_b64(self._sign(payload))}"

    def read(self, token: str) -> Unsubscribe:
        """What ``token`` unsubscribes from; ``InvalidUnsubscribeTokenError`` when it is
        malformed or its signature does not match."""
        invalid = InvalidUnsubscribeTokenError(
            "the unsubscribe link is damaged or was not made by this application; "
            "open the link from the email again, or change your notification settings "
            "after signing in"
        )
        if len(token) > TOKEN_MAX_LENGTH or token.count(".") != 1:
            raise invalid
        encoded_payload, encoded_signature = token.split(".")
        try:
            payload = _unb64(encoded_payload)
            signature = _unb64(encoded_signature)
        except (ValueError, TypeError):
            raise invalid from None
        if not hmac.compare_digest(signature, self._sign(payload)):
            raise invalid
        try:
            version, user_id, category, channel = payload.decode().split(":")
            if version != _VERSION:
                raise ValueError(version)
            return Unsubscribe(user_id, category, Channel(channel))
        except (UnicodeDecodeError, ValueError):
            raise invalid from None
