"""A local stand-in for Resend's email API, for testing the Resend adapter with the real
SDK and no network.

It speaks the wire format of Resend's OpenAPI document (``POST /emails`` and
``POST /emails/batch``): it checks ``Authorization: Bearer <key>`` (401
``missing_api_key`` / 403 ``invalid_api_key``), checks the body's shape (``from``, ``to``,
``subject``, ``text``/``html``, ``tags`` with Resend's allowed characters, ``headers``;
422 ``validation_error`` otherwise), records the emails it accepts, answers
``{"id": …}`` / ``{"data": [{"id": …}]}``, and honours ``Idempotency-Key`` as Resend does:
the same key with the same body gets the first answer again and records nothing; the
same key with another body gets 409 ``invalid_idempotent_request``. Tests make it fail
with ``fail_next`` (422, 429, 500, …).

Usage::

    with ResendStandin() as standin:
        sender = ResendEmailSender(api_key=standin.api_key, sender=..., base_url=standin.url)
        ...
        standin.emails  # what arrived, oldest first

Delivery webhooks: ``standin.webhook_event(email_id, "email.delivered")`` is a body
shaped like the one Resend posts (the OpenAPI document's ``Email*Event`` schemas), and
``sign_svix(secret, msg_id, timestamp, body)`` its Svix headers, computed here with the
standard library (independently of the adapter's verifier)::

    body = standin.webhook_event(email_id, "email.bounced", bounce_type="Transient")
    headers = sign_svix(DEFAULT_WEBHOOK_SECRET, "msg_1", int(now.timestamp()), body)
    client.post("/…/webhooks/resend", content=body, headers=headers)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import msgspec

from entrypoints.testing.standin_server import ServedInThread

DEFAULT_API_KEY = "re_standin_0123456789abcdef"
BATCH_LIMIT = 100
MAX_RECIPIENTS = 50
MAX_IDEMPOTENCY_KEY = 256
TAG_TEXT = re.compile(r"[A-Za-z0-9_-]{1,256}")
# SendEmailRequest's properties in resend.openapi.yaml; anything else is refused so a
# misspelt field fails the test instead of being dropped silently.
EMAIL_FIELDS = frozenset(
    {
        "from", "to", "subject", "bcc", "cc", "reply_to", "html", "text", "template",
        "headers", "scheduled_at", "attachments", "tags", "topic_id",
    }
)  # fmt: skip
NOT_IN_BATCH = frozenset({"attachments", "scheduled_at"})
# A signing secret for tests, in Resend's form (whsec_ + base64 of the HMAC key).
DEFAULT_WEBHOOK_SECRET = "whsec_bmluZWZvbGQtcmVzZW5kLXN0YW5kaW4tc2lnbmluZy1rZXk="
# ``data.bounce`` of an ``email.bounced`` event, per bounce type (WebhookEventBounce).
BOUNCES: dict[str, dict[str, Any]] = {
    "Permanent": {
        "diagnosticCode": ["smtp; 550 5.1.1 user unknown"],
        "message": "The recipient's email address does not exist.",
        "subType": "General",
        "type": "Permanent",
    },
    "Transient": {
        "diagnosticCode": ["smtp; 452 4.2.2 mailbox full"],
        "message": "The recipient's mailbox is full.",
        "subType": "MailboxFull",
        "type": "Transient",
    },
    "Undetermined": {
        "diagnosticCode": [],
        "message": "The receiving server's answer could not be classified.",
        "subType": "Undetermined",
        "type": "Undetermined",
    },
}


def sign_svix(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The Svix headers Resend sends with ``body``: ``svix-id``, ``svix-timestamp`` (Unix
    seconds) and ``svix-signature`` (``v1,`` and the base64 HMAC-SHA256 of
    ``{msg_id}.{timestamp}.{body}``, keyed with the base64 after ``secret``'s optional
    ``whsec_`` prefix)."""
    key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    signed = f"{msg_id}.{timestamp}.".encode() + body
    signature = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {
        "svix-id": msg_id,
        "svix-timestamp": str(timestamp),
        "svix-signature": f"v1,{signature}",
    }


class StandinEmail(msgspec.Struct, frozen=True, kw_only=True):
    """One email the stand-in accepted: its id, the JSON object as sent, and the
    request's ``Idempotency-Key`` (the batch's key for an email sent in a batch)."""

    id: str
    payload: dict[str, Any]
    idempotency_key: str | None
    batch: bool


class StandinRequest(msgspec.Struct, frozen=True, kw_only=True):
    """One request as received, whatever the answer (headers lower-cased)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


class _Failure(msgspec.Struct, kw_only=True):
    status: int
    name: str
    message: str
    times: int


class ApiError(Exception):
    def __init__(self, status: int, name: str, message: str) -> None:
        super().__init__(message)
        self.status, self.name, self.message = status, name, message


class ResendStandin(ServedInThread):
    thread_name = "resend-standin"

    """A threaded HTTP server on 127.0.0.1 (a free port) that plays Resend."""

    def __init__(self, api_key: str = DEFAULT_API_KEY) -> None:
        self.api_key = api_key
        self.emails: list[StandinEmail] = []
        self.requests: list[StandinRequest] = []
        self._failures: list[_Failure] = []
        self._answers: dict[tuple[str, str], tuple[bytes, int, bytes]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    def fail_next(
        self,
        status: int,
        name: str | None = None,
        message: str | None = None,
        *,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` requests with this error, as Resend would."""
        default_name = {
            400: "validation_error",
            409: "invalid_idempotent_request",
            422: "validation_error",
            429: "rate_limit_exceeded",
        }.get(status, "application_error")
        with self._lock:
            self._failures.append(
                _Failure(
                    status=status,
                    name=name or default_name,
                    message=message or f"The stand-in was told to answer {status}.",
                    times=times,
                )
            )

    def reset(self) -> None:
        with self._lock:
            self.emails.clear()
            self.requests.clear()
            self._failures.clear()
            self._answers.clear()

    # -- delivery webhooks ---------------------------------------------------------------

    def webhook_event(
        self,
        email_id: str,
        event_type: str,
        *,
        bounce_type: str | None = None,
        created_at: datetime | None = None,
    ) -> bytes:
        """The JSON body Resend posts for ``event_type`` about email ``email_id``:
        ``{"type", "created_at", "data": {"email_id", "created_at", "from", "to",
        "subject", "tags", ...}}``, with the email's own fields when the stand-in accepted
        it (placeholders otherwise) and the event's extra object: ``bounce`` (type
        ``bounce_type``, default ``Permanent``), ``failed``, ``click`` or ``suppressed``.
        ``created_at`` defaults to now. Any ``event_type`` is accepted, so tests can
        send types Resend may add later."""
        if bounce_type is not None and event_type != "email.bounced":
            raise ValueError("bounce_type is for email.bounced events only")
        at = _iso(created_at or datetime.now(UTC))
        with self._lock:
            email = next((e for e in self.emails if e.id == email_id), None)
        sent = email.payload if email is not None else {}
        to = sent.get("to", ["delivered@resend.dev"])
        data: dict[str, Any] = {
            "email_id": email_id,
            "created_at": at,
            "from": sent.get("from", "Acme <onboarding@resend.dev>"),
            "to": [to] if isinstance(to, str) else list(to),
            "subject": sent.get("subject", "Hello"),
            "tags": {tag["name"]: tag.get("value", "") for tag in sent.get("tags", [])},
        }
        if sent.get("headers"):
            data["headers"] = [{"name": k, "value": v} for k, v in sent["headers"].items()]
        if event_type == "email.bounced":
            kind = bounce_type or "Permanent"
            data["bounce"] = dict(BOUNCES.get(kind, {**BOUNCES["Permanent"], "type": kind}))
        elif event_type == "email.failed":
            data["failed"] = {"reason": "reached_daily_quota"}
        elif event_type == "email.clicked":
            data["click"] = {
                "ipAddress": "203.0.113.7",
                "link": "https://example.com/",
                "timestamp": at,
                "userAgent": "Mozilla/5.0",
            }
        elif event_type == "email.suppressed":
            data["suppressed"] = {
                "diagnosticCode": [],
                "message": "The address is on the account's suppression list.",
                "reason": "previous_bounce",
                "type": "OnAccountSuppressionList",
            }
        return json.dumps({"type": event_type, "created_at": at, "data": data}).encode()

    # -- the API -----------------------------------------------------------------------

    def handle(self, path: str, headers: Mapping[str, str], body: bytes) -> tuple[int, bytes]:
        """Answer one POST; the status and the JSON body."""
        try:
            with self._lock:
                status, answer = self._answer(path, headers, body)
        except ApiError as error:
            status = error.status
            answer = json.dumps(
                {"statusCode": error.status, "name": error.name, "message": error.message}
            ).encode()
        with self._lock:
            self.requests.append(
                StandinRequest(
                    method="POST", path=path, headers=dict(headers), body=body, status=status
                )
            )
        return status, answer

    def _answer(self, path: str, headers: Mapping[str, str], body: bytes) -> tuple[int, bytes]:
        if path not in ("/emails", "/emails/batch"):
            raise ApiError(404, "not_found", f"The route {path} does not exist.")
        self._check_authorization(headers.get("authorization"))
        if self._failures:
            failure = self._failures[0]
            failure.times -= 1
            if failure.times <= 0:
                self._failures.pop(0)
            raise ApiError(failure.status, failure.name, failure.message)
        payload = _parse(body)
        key = headers.get("idempotency-key")
        if key is not None:
            if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY:
                raise ApiError(
                    400, "invalid_idempotency_key", "The key must be 1-256 characters long."
                )
            canonical = json.dumps(payload, sort_keys=True).encode()
            known = self._answers.get((path, key))
            if known is not None:
                if known[0] != canonical:
                    raise ApiError(
                        409,
                        "invalid_idempotent_request",
                        "Same idempotency key used with a different request payload.",
                    )
                return known[1], known[2]
        if path == "/emails":
            _check_email(payload)
            email = StandinEmail(
                id=str(uuid.uuid4()), payload=payload, idempotency_key=key, batch=False
            )
            self.emails.append(email)
            answer = json.dumps({"id": email.id}).encode()
        else:
            if not isinstance(payload, list) or not 1 <= len(payload) <= BATCH_LIMIT:
                raise ApiError(422, "validation_error", f"A batch holds 1 to {BATCH_LIMIT} emails.")
            for index, item in enumerate(payload):
                _check_email(item, where=f"emails[{index}]", batch=True)
            batch = [
                StandinEmail(id=str(uuid.uuid4()), payload=item, idempotency_key=key, batch=True)
                for item in payload
            ]
            self.emails.extend(batch)
            answer = json.dumps({"data": [{"id": email.id} for email in batch]}).encode()
        if key is not None:
            self._answers[(path, key)] = (canonical, 200, answer)
        return 200, answer

    def _check_authorization(self, value: str | None) -> None:
        if not value or not value.startswith("Bearer ") or value == "Bearer None":
            raise ApiError(401, "missing_api_key", "Missing API key in the authorization header.")
        if value != f"Bearer {self.api_key}":
            raise ApiError(403, "invalid_api_key", "API key is invalid.")


def _iso(at: datetime) -> str:
    """Resend's timestamp form: UTC, milliseconds, ``Z`` (``2023-10-06T23:47:56.678Z``)."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise ApiError(422, "validation_error", "The body is not valid JSON.") from None


def _check_email(payload: Any, where: str = "body", *, batch: bool = False) -> None:
    def refuse(problem: str) -> ApiError:
        return ApiError(422, "validation_error", f"{where}: {problem}")

    if not isinstance(payload, dict):
        raise refuse("an email is a JSON object")
    unknown = set(payload) - EMAIL_FIELDS
    if unknown:
        raise refuse(f"unknown fields {sorted(unknown)}")
    if batch and NOT_IN_BATCH & set(payload):
        raise refuse(f"{sorted(NOT_IN_BATCH)} are not supported in batch sends")
    for field in ("from", "to", "subject"):
        if field not in payload:
            raise refuse(f"Missing `{field}` field.")
    for field in ("from", "subject", "text", "html", "scheduled_at", "topic_id"):
        if field in payload and not isinstance(payload[field], str):
            raise refuse(f"`{field}` must be a string")
    to = payload["to"]
    recipients = [to] if isinstance(to, str) else to
    if (
        not isinstance(recipients, list)
        or not 1 <= len(recipients) <= MAX_RECIPIENTS
        or not all(isinstance(r, str) and "@" in r for r in recipients)
    ):
        raise refuse(f"`to` must be an email address or a list of 1 to {MAX_RECIPIENTS}")
    if not any(field in payload for field in ("text", "html", "template")):
        raise refuse("Missing `html` or `text` field.")
    headers = payload.get("headers", {})
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise refuse("`headers` must be an object of strings")
    problem = _tags_problem(payload.get("tags", []))
    if problem:
        raise refuse(problem)


def _tags_problem(tags: Any) -> str | None:
    if not isinstance(tags, list):
        return "`tags` must be a list"
    for tag in tags:
        if not isinstance(tag, dict) or set(tag) - {"name", "value"}:
            return "a tag is an object with `name` and `value`"
        for part in ("name", "value"):
            text = tag.get(part, "x" if part == "value" else None)
            if not isinstance(text, str) or not TAG_TEXT.fullmatch(text):
                return (
                    f"tag {part} {text!r}: only ASCII letters, numbers, underscores or"
                    " dashes, at most 256 characters"
                )
    return None


def _handler_for(standin: ResendStandin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, answer = standin.handle(self.path, headers, body)
            self._reply(status, answer)

        def do_GET(self) -> None:
            self._reply(
                HTTPStatus.METHOD_NOT_ALLOWED,
                b'{"statusCode":405,"name":"method_not_allowed","message":"POST only."}',
            )

        def _reply(self, status: int, answer: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests read ``standin.requests`` instead."""

    return Handler
