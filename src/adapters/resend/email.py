"""``ResendEmailSender``: sends ``EmailMessage`` values through Resend's API.

The ``resend`` SDK keeps its configuration in module globals (``resend.api_key``,
``resend.api_url``, ``resend.default_http_client``), read on every request. So that two
senders with different settings (tests, a fork with two Resend accounts) cannot mix
them, every call sets all three under one process-wide lock and makes its request while
holding it. That serialises Resend calls within a process; Resend's own rate limit
(a few requests per second per team) is lower than what one caller achieves anyway,
and ``send_batch`` carries up to 100 messages per call. Nothing else in the process may
use the ``resend`` module (import-linter keeps the SDK in this package).

The SDK is synchronous (requests), so calls run in a worker thread
(``asyncio.to_thread``), never on the event loop.

Idempotency: every send carries ``Idempotency-Key: <message.idempotency_key>``; Resend
answers a repeated key with the first answer for 24 hours (the mail outbox is the
record beyond that). A batch carries one key derived from its messages' keys.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading
from collections.abc import Iterator, Sequence
from typing import Any, Final

import resend
from resend.exceptions import ResendError

from core.notifications import (
    EmailMessage,
    EmailProviderUnavailableError,
    EmailRejectedError,
)

RESEND_API_URL: Final = "https://api.resend.com"
RESEND_BATCH_LIMIT: Final = 100  # Resend's maximum of messages per batch call
MAX_IDEMPOTENCY_KEY: Final = 256  # Resend's maximum length of an Idempotency-Key
CATEGORY_TAG: Final = "category"
_NOT_TAG_CHARACTERS = re.compile(r"[^A-Za-z0-9_]")
# Statuses that mean "this message will never be accepted as it is": validation
# (400, 422), an idempotency key reused for another message (409), too large (413).
# 401/403 (credentials) and 408/429/5xx are the provider's or the operator's to fix,
# so the message is kept for a retry.
_REJECTED_STATUSES: Final = frozenset({400, 404, 405, 409, 413, 415, 422})

# One lock for the SDK's module globals, shared by every sender in the process.
_SDK_LOCK = threading.Lock()


def category_tag(category: str) -> str:
    """The Resend tag value of a notification category: tag values allow only ASCII
    letters, digits, ``_`` and ``-``, so ``.`` becomes ``-`` (``identity.verify_email``
    → ``identity-verify_email``) and any other character becomes ``_``. Categories are
    ``system.snake_case`` names, for which ``category_from_tag`` reverses it."""
    return _NOT_TAG_CHARACTERS.sub(lambda m: "-" if m.group() == "." else "_", category)[:256]


def category_from_tag(value: str) -> str:
    """The category a ``category`` tag value stands for (for webhooks and tests)."""
    return value.replace("-", ".")


def batch_idempotency_key(messages: Sequence[EmailMessage]) -> str:
    """One key for a batch: the same messages in the same order give the same key."""
    digest = hashlib.sha256()
    for message in messages:
        digest.update(message.idempotency_key.encode())
        digest.update(b"\0")
    return f"batch-{digest.hexdigest()}"


class ResendEmailSender:
    """Hands emails to Resend. ``base_url`` empty means Resend's API; tests point it at
    the local stand-in (``entrypoints.testing.resend_standin``)."""

    provider: Final = "resend"

    def __init__(
        self,
        *,
        api_key: str,
        sender: str,
        base_url: str = "",
        timeout_seconds: int = 30,
    ) -> None:
        if not api_key:
            raise ValueError("ResendEmailSender needs an API key")
        if not sender:
            raise ValueError("ResendEmailSender needs a sender address (from)")
        self._api_key = api_key
        self._sender = sender
        self._base_url = (base_url or RESEND_API_URL).rstrip("/")
        self._client = resend.RequestsClient(timeout=timeout_seconds)

    def __repr__(self) -> str:  # never the API key
        return f"ResendEmailSender(base_url={self._base_url!r}, sender={self._sender!r})"

    async def send(self, message: EmailMessage) -> None:
        await self.deliver(message)

    async def deliver(self, message: EmailMessage) -> str:
        """Send one message; return the id Resend gave it (the same id again for a
        repeated idempotency key)."""
        _check_key(message.idempotency_key)
        params = self._params(message)
        options: resend.Emails.SendOptions = {"idempotency_key": message.idempotency_key}
        response = await asyncio.to_thread(self._call, resend.Emails.send, params, options)
        return str(response["id"])

    async def send_batch(self, messages: Sequence[EmailMessage]) -> list[str]:
        """Send many messages, at most 100 per Resend call; return their ids in order.

        Messages repeating an earlier message's idempotency key in the list are sent
        once (the id is repeated). Resend does not apply per-message keys inside a
        batch: each call carries one key derived from its messages' keys, so retrying
        the same list repeats no call that succeeded. A failed call raises; the calls
        before it have been sent.
        """
        unique: dict[str, EmailMessage] = {}
        for message in messages:
            _check_key(message.idempotency_key)
            unique.setdefault(message.idempotency_key, message)
        ids: dict[str, str] = {}
        for chunk in _chunks(list(unique.values()), RESEND_BATCH_LIMIT):
            params = [self._params(message) for message in chunk]
            options: resend.Batch.SendOptions = {"idempotency_key": batch_idempotency_key(chunk)}
            response = await asyncio.to_thread(self._call, resend.Batch.send, params, options)
            answered = [str(item["id"]) for item in response["data"]]
            if len(answered) != len(chunk):
                raise EmailProviderUnavailableError(
                    f"Resend answered {len(answered)} ids for a batch of {len(chunk)}."
                )
            ids.update(zip((m.idempotency_key for m in chunk), answered, strict=True))
        return [ids[message.idempotency_key] for message in messages]

    async def deliver_batch(self, messages: Sequence[EmailMessage]) -> list[str]:
        """``send_batch``, as the delivery job's batch port calls it."""
        return await self.send_batch(messages)

    def _params(self, message: EmailMessage) -> resend.Emails.SendParams:
        params: resend.Emails.SendParams = {
            "from": self._sender,
            "to": [message.to],
            "subject": message.subject,
            "text": message.text,
            "tags": [{"name": CATEGORY_TAG, "value": category_tag(message.category)}],
        }
        if message.html is not None:
            params["html"] = message.html
        if message.headers:
            params["headers"] = dict(message.headers)
        return params

    def _call(self, method: Any, params: Any, options: Any) -> Any:
        """Runs in a worker thread: configure the SDK's globals and call it, under the
        lock; translate its errors into the port's."""
        with _SDK_LOCK:
            resend.api_key = self._api_key
            resend.api_url = self._base_url
            resend.default_http_client = self._client
            try:
                return method(params, options)
            except ResendError as error:
                raise _translate(error) from None
            finally:
                resend.api_key = None


def _check_key(key: str) -> None:
    if not key or len(key) > MAX_IDEMPOTENCY_KEY:
        raise EmailRejectedError(
            f"Resend needs an idempotency key of 1 to {MAX_IDEMPOTENCY_KEY} characters;"
            f" this one has {len(key)}.",
            field="idempotency_key",
        )


def _status(error: ResendError) -> int:
    try:
        return int(error.code)
    except (TypeError, ValueError):
        return 500


def _translate(error: ResendError) -> Exception:
    """The SDK's error as the port's: rejected (never retry) or unavailable (retry).
    Only Resend's status, error name and message are kept; the SDK's network errors
    carry the URL, never the Authorization header."""
    status = _status(error)
    detail = f"Resend answered {status} {error.error_type}: {error.message}"
    if error.error_type == "HttpClientError":  # the SDK's name for a network failure
        detail = f"Resend could not be reached: {error.message}"
    if status in _REJECTED_STATUSES and error.error_type != "HttpClientError":
        return EmailRejectedError(detail, provider_status=status, provider_error=error.error_type)
    return EmailProviderUnavailableError(
        detail, provider_status=status, provider_error=error.error_type
    )


def _chunks(items: list[EmailMessage], size: int) -> Iterator[list[EmailMessage]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
