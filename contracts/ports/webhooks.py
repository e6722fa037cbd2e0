"""Conformance of outbound webhooks' ports.

- ``WebhookStorageContract``: provide ``webhook_storage``, a pair ``(endpoints,
  deliveries)`` (a ``WebhookEndpointRepository`` and a ``WebhookDeliveryLog``) bound to
  one open unit of work, and ``clock``.
- ``WebhookTransportContract``: provide ``webhook_transport``, a ``WebhookTransport`` that
  may call 127.0.0.1 (built to allow private addresses). The suite runs its own
  receiver, a real HTTP server on 127.0.0.1 (``LocalReceiver``).
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import msgspec
import pytest

from core.kernel import FixedClock, IdGenerator, TenantContext
from core.workflows.webhook_errors import WebhookTransportError
from core.workflows.webhook_model import (
    DeliveryStatus,
    DeliveryTrigger,
    WebhookDelivery,
    WebhookEndpoint,
)
from core.workflows.webhook_ports import (
    WebhookDeliveryLog,
    WebhookEndpointRepository,
    WebhookTransport,
)

Storage = tuple[WebhookEndpointRepository, WebhookDeliveryLog]
ids = IdGenerator()
ACME = TenantContext("ws_acme")
OTHER = TenantContext("ws_other")


def an_endpoint(
    clock: FixedClock, tenant: TenantContext = ACME, **changes: object
) -> WebhookEndpoint:
    endpoint = WebhookEndpoint(
        id=ids.new("whe", clock.now()),
        workspace_id=tenant.workspace_id,
        url="https://hooks.example.com/ninefold",
        description="CRM sync",
        events=("identity.member_added", "identity.member_removed"),
        secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        created_at=clock.now(),
        updated_at=clock.now(),
    )
    return msgspec.structs.replace(endpoint, **changes)


def a_delivery(
    clock: FixedClock, endpoint: WebhookEndpoint, attempt: int = 1, **changes: object
) -> WebhookDelivery:
    delivery = WebhookDelivery(
        id=ids.new("whd", clock.now()),
        workspace_id=endpoint.workspace_id,
        endpoint_id=endpoint.id,
        event_id="evt_01jbq0000000000000000000000",
        event_type="identity.member_added",
        message_id="msg_01jbq0000000000000000000000",
        trigger=DeliveryTrigger.EVENT,
        attempt=attempt,
        status=DeliveryStatus.RETRYING,
        url=endpoint.url,
        body=b'{"id":"evt_1","type":"identity.member_added","data":{"x":"\xc3\xa9"}}',
        created_at=clock.now(),
        status_code=503,
        latency_ms=1234,
        response_excerpt="Service Unavailable — réessayez",
        error=None,
    )
    return msgspec.structs.replace(delivery, **changes)


class WebhookStorageContract:
    async def test_an_endpoint_is_stored_with_every_field(
        self, webhook_storage: Storage, clock: FixedClock
    ) -> None:
        endpoints, _ = webhook_storage
        endpoint = an_endpoint(
            clock,
            previous_secret="whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            previous_secret_expires_at=clock.now() + timedelta(hours=24),
            failing_since=clock.now(),
            consecutive_failures=3,
        )

        await endpoints.add(endpoint)

        assert await endpoints.get(ACME, endpoint.id) == endpoint

    async def test_another_workspace_never_sees_or_touches_an_endpoint(
        self, webhook_storage: Storage, clock: FixedClock
    ) -> None:
        endpoints, _ = webhook_storage
        endpoint = an_endpoint(clock)
        await endpoints.add(endpoint)
        now = clock.now()

        assert await endpoints.get(OTHER, endpoint.id) is None
        assert await endpoints.list_endpoints(OTHER) == []
        assert await endpoints.count(OTHER) == 0
        assert await endpoints.subscribed(OTHER, "identity.member_added") == []
        assert not await endpoints.update(OTHER, msgspec.structs.replace(endpoint, url="x"))
        assert not await endpoints.disable(OTHER, endpoint.id, "no", now)
        assert await endpoints.record_failure(OTHER, endpoint.id, now) is None
        await endpoints.record_success(OTHER, endpoint.id)
        assert not await endpoints.delete(OTHER, endpoint.id)
        assert await endpoints.delete_all(OTHER) == 0
        assert await endpoints.get(ACME, endpoint.id) == endpoint

    async def test_endpoints_are_listed_oldest_first_and_counted(
        self, webhook_storage: Storage, clock: FixedClock
    ) -> None:
        endpoints, _ = webhook_storage
        first = an_endpoint(clock)
        clock.advance(timedelta(seconds=1))
        second = an_endpoint(clock)
        await endpoints.add(second)
        await endpoints.add(first)
        await endpoints.add(an_endpoint(clock, OTHER))

        assert [e.id for e in await endpoints.list_endpoints(ACME)] == [first.id, second.id]
        assert await endpoints.count(ACME) == 2

    async def test_subscribed_endpoints_are_the_enabled_ones_whose_filter_accepts(
        self, webhook_storage: Storage, clock: FixedClock
    ) -> None:
        endpoints, _ = webhook_storage
        everything = an_endpoint(clock, events=("*",))
        members = an_endpoint(clock, events=("identity.member_added",))
        others = an_endpoint(clock, events=("identity.workspace_purged",))
        disabled = an_endpoint(clock, events=("*",))
        for endpoint in (everything, members, others, disabled):
            await endpoints.add(endpoint)
        await endpoints.disable(ACME, disabled.id, "broken", clock.now())

        found = await endpoints.subscribed(ACME, "identity.member_added")

        assert [e.id for e in found] == [everything.id, members.id]

    async def test_update_stores_the_configuration_and_leaves_the_state_alone(
        self, webhook_storage: Storage, clock: FixedClock
    ) -> None:
        endpoints, _ = webhook_storage
        endpoint = an_endpoint(clock)
        await endpoints.add(endpoint)
        await endpoints.record_failure(ACME, endpoint.id, clock.now())
        later = clock.advance(timedelta(minutes=5))
        changed = msgspec.structs.replace(
            endpoint,
            url="https://other.example.com/hook",
            description="",
            events=("*",),
            secret="whsec_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB",
            previous_secret=endpoint.secret,
            previous_secret_expires_at=later + timedelta(hours=24),
            updated_at=later,
            disabled_at=later,  # not the update's business
            consecutive_failures=0,
        )

        assert await endpoints.update(ACME, changed)

        stored = await endpoints.get(ACME, endpoint.id)
        assert stored == msgspec.structs.replace(
            changed, disabled_at=None, failing_since=endpoint.created_at, consecutive_failures=1
        )

    async def test_an_endpoint_is_disabled_once_and_enabled_afresh(
        self, webhook_storage: Storage, clock: FixedClock
    ) -> None:
        endpoints, _ = webhook_storage
        endpoint = an_endpoint(clock)
        await endpoints.add(endpoint)
        await endpoints.record_failure(ACME, endpoint.id, clock.now())
        at = clock.advance(timedelta(days=5))

        assert await endpoints.disable(ACME, endpoint.id, "kept failing", at)
        assert not await endpoints.disable(ACME, endpoint.id, "again", at)
        disabled = await endpoints.get(ACME, endpoint.id)
        assert disabled is not None
        assert (disabled.enabled, disabled.disabled_at, disabled.disabled_reason) == (
            False,
            at,
            "kept failing",
        )

        assert await endpoints.enable(ACME, endpoint.id, clock.now())
        assert not await endpoints.enable(ACME, endpoint.id, clock.now())
        enabled = await endpoints.get(ACME, endpoint.id)
        assert enabled is not None
        assert enabled.enabled
        assert (enabled.disabled_reason, enabled.failing_since) == (None, None)
        assert enabled.consecutive_failures == 0

    async def test_failures_count_from_the_first_until_a_success(
        self, webhook_storage: Storage, clock: FixedClock
    ) -> None:
        endpoints, _ = webhook_storage
        endpoint = an_endpoint(clock)
        await endpoints.add(endpoint)
        first = clock.now()

        await endpoints.record_failure(ACME, endpoint.id, first)
        failing = await endpoints.record_failure(
            ACME, endpoint.id, clock.advance(timedelta(hours=1))
        )

        assert failing is not None
        assert (failing.failing_since, failing.consecutive_failures) == (first, 2)
        await endpoints.record_success(ACME, endpoint.id)
        healthy = await endpoints.get(ACME, endpoint.id)
        assert healthy is not None
        assert (healthy.failing_since, healthy.consecutive_failures) == (None, 0)

    async def test_deleting_removes_one_endpoint_or_a_whole_workspace(
        self, webhook_storage: Storage, clock: FixedClock
    ) -> None:
        endpoints, _ = webhook_storage
        one, two = an_endpoint(clock), an_endpoint(clock)
        elsewhere = an_endpoint(clock, OTHER)
        for endpoint in (one, two, elsewhere):
            await endpoints.add(endpoint)

        assert await endpoints.delete(ACME, one.id)
        assert not await endpoints.delete(ACME, one.id)
        assert await endpoints.delete_all(ACME) == 1

        assert await endpoints.list_endpoints(ACME) == []
        assert await endpoints.get(OTHER, elsewhere.id) == elsewhere

    async def test_a_delivery_is_stored_with_every_field(
        self, webhook_storage: Storage, clock: FixedClock
    ) -> None:
        _, deliveries = webhook_storage
        endpoint = an_endpoint(clock)
        failed = a_delivery(
            clock,
            endpoint,
            status=DeliveryStatus.FAILED,
            status_code=None,
            latency_ms=None,
            response_excerpt="",
            error="timeout: no answer within 10s",
            trigger=DeliveryTrigger.REDELIVERY,
        )
        answered = a_delivery(clock, endpoint, attempt=2)

        await deliveries.add(failed)
        await deliveries.add(answered)

        assert await deliveries.get(ACME, failed.id) == failed
        assert await deliveries.get(ACME, answered.id) == answered
        assert await deliveries.get(OTHER, answered.id) is None

    async def test_an_endpoints_deliveries_come_newest_first_a_page_at_a_time(
        self, webhook_storage: Storage, clock: FixedClock
    ) -> None:
        _, deliveries = webhook_storage
        endpoint, other = an_endpoint(clock), an_endpoint(clock)
        made = []
        for attempt in range(1, 6):
            made.append(a_delivery(clock, endpoint, attempt))
            clock.advance(timedelta(seconds=1))
        for delivery in made:
            await deliveries.add(delivery)
        await deliveries.add(a_delivery(clock, other))
        newest_first = [d.id for d in reversed(made)]

        first = await deliveries.list_for_endpoint(ACME, endpoint.id, after=None, limit=2)
        rest = await deliveries.list_for_endpoint(ACME, endpoint.id, after=first[-1].id, limit=10)

        assert [d.id for d in first] == newest_first[:2]
        assert [d.id for d in rest] == newest_first[2:]
        assert await deliveries.list_for_endpoint(OTHER, endpoint.id, after=None, limit=10) == []

    async def test_deliveries_go_with_their_endpoint_their_workspace_or_their_age(
        self, webhook_storage: Storage, clock: FixedClock
    ) -> None:
        _, deliveries = webhook_storage
        endpoint, second = an_endpoint(clock), an_endpoint(clock)
        old = a_delivery(clock, endpoint)
        clock.advance(timedelta(days=40))
        recent = a_delivery(clock, endpoint)
        of_second = a_delivery(clock, second)
        elsewhere = a_delivery(clock, an_endpoint(clock, OTHER))
        for delivery in (old, recent, of_second, elsewhere):
            await deliveries.add(delivery)

        assert await deliveries.prune(clock.now() - timedelta(days=30), limit=100) == 1
        assert await deliveries.get(ACME, old.id) is None
        assert await deliveries.delete_for_endpoint(ACME, second.id) == 1
        assert await deliveries.delete_all(ACME) == 1
        assert await deliveries.get(ACME, recent.id) is None
        assert await deliveries.get(OTHER, elsewhere.id) == elsewhere


# -- the transport ---------------------------------------------------------------------


class Received(msgspec.Struct, frozen=True):
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class LocalReceiver:
    """A real HTTP server on 127.0.0.1 that records what it receives and answers by
    path: ``/status/<code>`` with that code and body ``"status <code>"``,
    ``/redirect`` with a 302 to ``/status/200``, ``/retry-after`` with a 429 asking
    for 120 seconds, ``/big`` with 64 KB, ``/slow/<seconds>`` after sleeping; anything
    else with 200 ``"ok"``."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                receiver.received.append(
                    Received(
                        method="POST",
                        path=self.path,
                        headers={k.lower(): v for k, v in self.headers.items()},
                        body=body,
                    )
                )
                receiver.answer(self)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def answer(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        path = handler.path
        status, body, headers = 200, b"ok", {}
        if path.startswith("/status/"):
            status = int(path.rsplit("/", 1)[1])
            body = f"status {status}".encode()
        elif path == "/redirect":
            status, headers = 302, {"Location": "/status/200"}
        elif path == "/retry-after":
            status, headers = 429, {"Retry-After": "120"}
        elif path == "/big":
            body = b"x" * 65536
        elif path.startswith("/slow/"):
            time.sleep(float(path.rsplit("/", 1)[1]))
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        try:
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            return

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (it was free a moment ago)."""
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    port = int(server.server_address[1])
    server.server_close()
    return port


BODY = b'{"id":"evt_1","type":"webhook.test","timestamp":"2030-01-01T00:00:00Z","data":{}}'
HEADERS = {
    "content-type": "application/json",
    "webhook-id": "msg_1",
    "webhook-timestamp": "1893456000",
    "webhook-signature": "v1,abc=",
}


class WebhookTransportContract:
    @pytest.fixture
    def receiver(self) -> Iterator[LocalReceiver]:
        receiver = LocalReceiver()
        yield receiver
        receiver.close()

    async def test_the_body_and_headers_are_posted_as_given(
        self, webhook_transport: WebhookTransport, receiver: LocalReceiver
    ) -> None:
        response = await webhook_transport.post(
            receiver.url + "/hooks?source=ninefold", BODY, HEADERS, timeout_seconds=5
        )

        assert (response.status_code, response.body_excerpt, response.succeeded) == (
            200,
            "ok",
            True,
        )
        assert response.latency_ms >= 0
        (received,) = receiver.received
        assert (received.method, received.path, received.body) == (
            "POST",
            "/hooks?source=ninefold",
            BODY,
        )
        assert {k: received.headers[k] for k in HEADERS} == HEADERS

    async def test_an_error_status_is_an_answer_not_an_exception(
        self, webhook_transport: WebhookTransport, receiver: LocalReceiver
    ) -> None:
        response = await webhook_transport.post(
            receiver.url + "/status/500", BODY, HEADERS, timeout_seconds=5
        )

        assert (response.status_code, response.body_excerpt) == (500, "status 500")
        assert not response.succeeded

    async def test_redirects_are_not_followed(
        self, webhook_transport: WebhookTransport, receiver: LocalReceiver
    ) -> None:
        response = await webhook_transport.post(
            receiver.url + "/redirect", BODY, HEADERS, timeout_seconds=5
        )

        assert response.status_code == 302
        assert [r.path for r in receiver.received] == ["/redirect"]

    async def test_retry_after_is_reported_as_sent(
        self, webhook_transport: WebhookTransport, receiver: LocalReceiver
    ) -> None:
        response = await webhook_transport.post(
            receiver.url + "/retry-after", BODY, HEADERS, timeout_seconds=5
        )

        assert (response.status_code, response.retry_after) == (429, "120")

    async def test_at_most_the_first_kilobyte_of_the_answer_is_kept(
        self, webhook_transport: WebhookTransport, receiver: LocalReceiver
    ) -> None:
        response = await webhook_transport.post(
            receiver.url + "/big", BODY, HEADERS, timeout_seconds=5
        )

        assert response.body_excerpt == "x" * 1024

    async def test_a_slow_endpoint_times_out(
        self, webhook_transport: WebhookTransport, receiver: LocalReceiver
    ) -> None:
        started = time.monotonic()

        with pytest.raises(WebhookTransportError) as raised:
            await webhook_transport.post(
                receiver.url + "/slow/3", BODY, HEADERS, timeout_seconds=0.5
            )

        assert raised.value.kind == "timeout"
        assert time.monotonic() - started < 2.5

    async def test_a_closed_port_is_a_connection_error(
        self, webhook_transport: WebhookTransport
    ) -> None:
        url = f"http://127.0.0.1:{_closed_port()}/hooks"

        with pytest.raises(WebhookTransportError) as raised:
            await webhook_transport.post(url, BODY, HEADERS, timeout_seconds=5)

        assert raised.value.kind == "connect"
