"""The httpx transport: the transport suite against a real local server, and its guard
against requests to private networks (SSRF), checked on the addresses a host resolves
to when it sends."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from adapters.httpx.webhooks import HttpxWebhookTransport
from contracts.ports.webhooks import BODY, HEADERS, LocalReceiver, WebhookTransportContract
from core.workflows.webhook_errors import WebhookTransportError


class TestHttpxWebhookTransport(WebhookTransportContract):
    @pytest.fixture
    def webhook_transport(self) -> HttpxWebhookTransport:
        return HttpxWebhookTransport(allow_private=True)


@pytest.fixture
def receiver() -> Iterator[LocalReceiver]:
    receiver = LocalReceiver()
    yield receiver
    receiver.close()


def resolving_to(*addresses: str):  # type: ignore[no-untyped-def]
    async def resolve(_host: str, _port: int) -> Sequence[str]:
        return list(addresses)

    return resolve


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hooks",
        "https://10.0.0.8/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hooks",
        "https://[::ffff:192.168.1.1]/hooks",
    ],
)
async def test_a_private_address_in_the_url_is_never_called(url: str) -> None:
    transport = HttpxWebhookTransport()

    with pytest.raises(WebhookTransportError) as raised:
        await transport.post(url, BODY, HEADERS, timeout_seconds=2)

    assert raised.value.kind == "blocked"


async def test_a_name_that_resolves_to_a_private_address_at_send_time_is_refused(
    receiver: LocalReceiver,
) -> None:
    # The name looked public when the endpoint was registered; its DNS now answers with
    # the loopback address (rebinding), where a receiver does listen.
    transport = HttpxWebhookTransport(resolver=resolving_to("93.184.215.14", "127.0.0.1"))

    with pytest.raises(WebhookTransportError) as raised:
        await transport.post("https://hooks.example.com/x", BODY, HEADERS, timeout_seconds=2)

    assert raised.value.kind == "blocked"
    assert "127.0.0.1" in str(raised.value)
    assert receiver.received == []


async def test_plain_http_is_refused_unless_private_urls_are_allowed() -> None:
    transport = HttpxWebhookTransport(resolver=resolving_to("93.184.215.14"))

    with pytest.raises(WebhookTransportError) as raised:
        await transport.post("http://hooks.example.com/x", BODY, HEADERS, timeout_seconds=2)

    assert raised.value.kind == "blocked"


async def test_the_request_goes_to_the_checked_address_with_the_name_as_host(
    receiver: LocalReceiver,
) -> None:
    port = receiver.url.rsplit(":", 1)[1]
    transport = HttpxWebhookTransport(
        allow_private=True,
        resolver=resolving_to("127.0.0.1"),
        address_allowed=lambda address: address.is_loopback,
    )

    response = await transport.post(
        f"http://hooks.example.test:{port}/in", BODY, HEADERS, timeout_seconds=5
    )

    assert response.status_code == 200
    (received,) = receiver.received
    assert received.headers["host"] == f"hooks.example.test:{port}"


async def test_a_name_that_does_not_resolve_is_a_connection_error() -> None:
    async def fail(_host: str, _port: int) -> Sequence[str]:
        raise OSError("Name or service not known")

    transport = HttpxWebhookTransport(resolver=fail)

    with pytest.raises(WebhookTransportError) as raised:
        await transport.post("https://nowhere.example.com/", BODY, HEADERS, timeout_seconds=2)

    assert raised.value.kind == "connect"
