"""The Dodo SDK's errors as the port's.

=====================================================  ===================================
SDK error (HTTP status)                                 port error
=====================================================  ===================================
``APIConnectionError``, ``APITimeoutError``             ``PaymentProviderUnavailableError``
``RateLimitError`` (429), 408                           unavailable (``Retry-After`` kept)
``InternalServerError`` (500, 502, 503, 504, …)         unavailable
``APIResponseValidationError`` (an unreadable answer)   unavailable
``BadRequestError`` (400), ``AuthenticationError``      ``PaymentProviderRejectedError``
(401), ``PermissionDeniedError`` (403),
``NotFoundError`` (404), ``ConflictError`` (409),
``UnprocessableEntityError`` (422), any other 4xx
=====================================================  ===================================

``detail`` is "Dodo Payments answered <status> <code>: <message>" from Dodo's error body
(``{"code", "message"}``); ``extra`` has ``provider``, ``provider_status`` and
``provider_code``. The SDK's exception is not chained (``from None``): its text holds the
whole response body, and nothing of it but the code and message should travel. The API
key is scrubbed from the message all the same, in case an answer ever echoes it.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Final, TypeVar

import dodopayments

from core.billing.errors import PaymentProviderRejectedError, PaymentProviderUnavailableError

PROVIDER: Final = "dodo"
MAX_DETAIL: Final = 500
DEFAULT_RETRY_AFTER: Final = 30

T = TypeVar("T")


async def call(awaitable: Awaitable[T], *, secret: str) -> T:
    """``await awaitable``, with the SDK's errors as the port's (see the table)."""
    try:
        return await awaitable
    except dodopayments.APIConnectionError as error:  # includes APITimeoutError
        kind = "timed out" if isinstance(error, dodopayments.APITimeoutError) else "failed"
        raise PaymentProviderUnavailableError(
            f"The connection to Dodo Payments {kind}.", provider=PROVIDER
        ) from None
    except dodopayments.APIStatusError as error:
        raise status_error(error, secret=secret) from None
    except dodopayments.APIResponseValidationError:
        raise PaymentProviderUnavailableError(
            "Dodo Payments answered something unreadable.", provider=PROVIDER
        ) from None


def status_error(
    error: dodopayments.APIStatusError, *, secret: str
) -> PaymentProviderRejectedError | PaymentProviderUnavailableError:
    status = error.status_code
    code, message = reason(error.body)
    detail = (
        f"Dodo Payments answered {status}"
        + (f" {code}" if code else "")
        + (f": {message}" if message else ".")
    )
    detail = detail.replace(secret, "[redacted]")[:MAX_DETAIL]
    extra: dict[str, Any] = {"provider": PROVIDER, "provider_status": status, "provider_code": code}
    if status in (408, 429) or status >= 500:
        retry_after = error.response.headers.get("retry-after", "")
        seconds = int(retry_after) if retry_after.isdigit() else DEFAULT_RETRY_AFTER
        return PaymentProviderUnavailableError(detail, retry_after=seconds, **extra)
    return PaymentProviderRejectedError(detail, **extra)


def reason(body: object) -> tuple[str, str]:
    """Dodo's error ``code`` and ``message`` from an error body, if it has them."""
    if isinstance(body, dict):
        code, message = body.get("code"), body.get("message")
        return (code if isinstance(code, str) else "", message if isinstance(message, str) else "")
    if isinstance(body, str):
        return "", body[:200]
    return "", ""
