"""Stripe's errors as the port's.

``APIConnectionError`` (unreachable, timeout), ``RateLimitError`` (429), any
5xx ``APIError`` and 409 (a concurrent request with the same idempotency key, a lock
timeout) raise ``PaymentProviderUnavailableError`` (``retry_after`` from a
``Retry-After`` header when Stripe sends one); ``InvalidRequestError`` (400/404, e.g. an
unknown subscription), ``CardError`` (402), ``AuthenticationError`` (401),
``PermissionError`` (403) and ``IdempotencyError`` (a key reused for another request)
raise ``PaymentProviderRejectedError``, unless Stripe answered ``Stripe-Should-Retry:
true`` (then it is unavailable).

Only Stripe's status, error type, code and message are kept, with anything that looks
like a key (``sk_…``, ``rk_…``, ``pk_…``, and the configured key itself) masked: Stripe's
answer to a wrong key quotes part of it. The SDK's exception is not chained (``from
None`` at the call site), so no traceback carries its raw body.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

import stripe

from core.billing.errors import PaymentProviderRejectedError, PaymentProviderUnavailableError

PROVIDER: Final = "stripe"
DEFAULT_RETRY_AFTER: Final = 30
_KEYS = re.compile(r"\b(?:sk|rk|pk)_(?:test|live)_[A-Za-z0-9*]+")


def translate(error: stripe.StripeError, action: str, *, api_key: str) -> Exception:
    """The port's error for the SDK's ``error`` raised while trying to ``action``."""
    status = error.http_status
    kind = getattr(error.error, "type", None) if error.error is not None else None
    message = mask(error.user_message or "no message", api_key)
    code = f" ({error.code})" if error.code else ""
    if isinstance(error, stripe.APIConnectionError):
        return PaymentProviderUnavailableError(
            f"Stripe could not be reached to {action}: {message}", provider=PROVIDER
        )
    detail = f"Stripe answered {status} {kind or 'error'}{code} to {action}: {message}"
    headers = error.headers or {}
    retryable = (
        isinstance(error, stripe.RateLimitError)
        or (status or 500) >= 500
        or status == 409  # a concurrent request with the same key, a lock timeout
        or _header(headers, "stripe-should-retry") == "true"
    )
    if retryable:
        return PaymentProviderUnavailableError(
            detail, retry_after=_retry_after(headers), provider=PROVIDER, provider_status=status
        )
    return PaymentProviderRejectedError(
        detail, provider=PROVIDER, provider_status=status, provider_code=error.code
    )


def mask(text: str, api_key: str) -> str:
    """``text`` without the key or anything shaped like a Stripe key."""
    if api_key:
        text = text.replace(api_key, "[redacted key]")
    return _KEYS.sub("[redacted key]", text)


def _header(headers: Mapping[str, str], name: str) -> str:
    return next((v for k, v in headers.items() if k.lower() == name), "").strip().lower()


def _retry_after(headers: Mapping[str, str]) -> int:
    value = _header(headers, "retry-after")
    try:
        return max(1, min(int(float(value)), 3600))
    except ValueError:
        return DEFAULT_RETRY_AFTER
