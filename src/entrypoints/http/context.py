"""The outermost ASGI layer: request id, host check, security headers, access log.

It wraps Litestar's own ASGI handler (as Litestar itself does for CORS), so it sees
every response: routed ones, 404s, 405s, 413s and 500s alike. It is plain ASGI with no
per-request allocation beyond the header list, because it sits on the hot path.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Iterable

import msgspec
import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from core.kernel.errors import PROBLEM_BASE
from core.safety import RequestContext as ActingContext
from core.safety import current_context, set_context
from entrypoints.logging import reset_log_context, set_log_context

logger = structlog.get_logger("ninefold.access")

REQUEST_ID_HEADER = b"x-request-id"
_SANE_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:\-]{8,128}$")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def security_headers(production: bool) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"strict-origin-when-cross-origin"),
        (b"x-frame-options", b"DENY"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
    ]
    if production:
        headers.append((b"strict-transport-security", b"max-age=63072000; includeSubDomains"))
    return headers


class HostPolicy:
    """Which ``Host`` headers the app answers to: exact names or ``*.example.com``
    (any subdomain). The port is ignored. ``*`` alone allows every host."""

    def __init__(self, allowed: Iterable[str]) -> None:
        names = [name.strip().lower() for name in allowed if name.strip()]
        self.allows_any = "*" in names
        self._exact = frozenset(n for n in names if not n.startswith("*."))
        self._suffixes = tuple(n[1:] for n in names if n.startswith("*."))

    def allows(self, host_header: bytes | None) -> bool:
        if self.allows_any:
            return True
        if not host_header:
            return False
        host = host_header.decode("latin-1").strip().lower()
        # Drop the port: "[::1]:8000" -> "[::1]", "app.example.com:443" -> "app.example.com"
        host = host[: host.find("]") + 1] if host.startswith("[") else host.rsplit(":", 1)[0]
        return host in self._exact or host.endswith(self._suffixes)


def _header(headers: Iterable[tuple[bytes, bytes]], wanted: bytes) -> bytes | None:
    for name, value in headers:
        if name == wanted:
            return value
    return None


def new_request_id() -> str:
    """32 hex digits without a system call. ``uuid4()`` reads ``os.urandom``, whose
    ``getrandom()`` releases the GIL; under granian every request then waits for the GIL
    to come back (measured: a third of the full stack's throughput on the health probe).
    A correlation id needs uniqueness, not unpredictability."""
    return f"{random.getrandbits(128):032x}"


def incoming_request_id(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The client's ``X-Request-ID`` when it is sane (8-128 safe characters)."""
    for name, value in headers:
        if name == REQUEST_ID_HEADER:
            return value.decode("ascii") if _SANE_REQUEST_ID.match(value) else None
    return None


class RequestContext:
    def __init__(
        self,
        app: ASGIApp,
        *,
        production: bool,
        allowed_hosts: Iterable[str] = ("*",),
        quiet_paths: Iterable[str] = (),
    ) -> None:
        self._app = app
        self._headers = security_headers(production)
        self._hosts = HostPolicy(allowed_hosts)
        self._quiet = frozenset(quiet_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self._app(scope, receive, send)
            return
        request_id = incoming_request_id(scope["headers"]) or new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        extra = (*self._headers, (REQUEST_ID_HEADER, request_id.encode("ascii")))
        status = 500
        started = time.perf_counter()

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        token = set_log_context(request_id=request_id)
        # Who acts, for the audit log: the request id now, the rest once known
        # (entrypoints.http.safety.acting).
        outer = current_context()
        set_context(ActingContext(request_id=request_id))
        try:
            if self._hosts.allows_any or self._hosts.allows(_header(scope["headers"], b"host")):
                await self._app(scope, receive, send_with_headers)
            else:
                await _refuse_host(scope["path"], request_id, send_with_headers)
        finally:
            if scope["path"] not in self._quiet:
                logger.info(
                    "request",
                    method=scope.get("method"),
                    path=scope["path"],
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                )
            reset_log_context(token)
            set_context(outer)


async def _refuse_host(path: str, request_id: str, send: Send) -> None:
    """400 problem+json for a Host header the app does not answer to (DNS rebinding,
    misrouted traffic). Sent from here because the request never reaches Litestar."""
    body = msgspec.json.encode(
        {
            "type": PROBLEM_BASE + "invalid-host",
            "title": "The Host header names a host this server does not serve.",
            "status": 400,
            "detail": "Send the request to one of the hosts in NINEFOLD_ALLOWED_HOSTS.",
            "instance": path,
            "request_id": request_id,
        }
    )
    await send(
        {
            "type": "http.response.start",
            "status": 400,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})
