"""``WebhookTransport`` on httpx: one POST per delivery, guarded against SSRF.

Before each request the host is resolved here, every address it resolves to is
checked (``core.workflows.webhook_urls.is_public_address``, unless the transport was
built to allow private addresses), and the connection goes to a checked address: the
URL's host is replaced by that address while the ``Host`` header and TLS's SNI (and so
certificate checking) keep the name. Checking a name and then letting the client
resolve it again would leave a gap for DNS rebinding.

Each request gets a client of its own (sharing one TLS context): connections are keyed
by address, and a kept-alive connection made for one host name must never carry a
request for another that shares its address. Redirects are not followed (a 3xx is the
endpoint's answer, and following it would skip the address check); the whole attempt,
name resolution to the last byte read, is bounded by ``timeout_seconds``, and at most
the first KB of the answer is read.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

import httpx

from core.workflows.webhook_errors import WebhookTransportError
from core.workflows.webhook_model import EXCERPT_MAX_BYTES, WebhookResponse
from core.workflows.webhook_urls import IpAddress, is_public_address, parse_address

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
AddressCheck = Callable[[IpAddress], bool]
MAX_ADDRESSES_TRIED = 3
DEFAULT_PORTS = {"https": 443, "http": 80}


async def resolve(host: str, port: int) -> Sequence[str]:
    """The addresses ``host`` resolves to, in the resolver's order, without repeats."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[str] = []
    for *_, sockaddr in infos:
        address = str(sockaddr[0]).split("%", 1)[0]
        if address not in found:
            found.append(address)
    return found


def _allow_any(_address: IpAddress) -> bool:
    return True


class HttpxWebhookTransport:
    """Sends webhook deliveries with httpx.

    ``allow_private`` lets deliveries reach private, loopback and link-local addresses
    and plain ``http`` (development and tests only). ``address_allowed`` and
    ``resolver`` replace the address check and name resolution (tests)."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        address_allowed: AddressCheck | None = None,
        resolver: Resolver = resolve,
        excerpt_bytes: int = EXCERPT_MAX_BYTES,
    ) -> None:
        self._allow_private = allow_private
        self._allowed = address_allowed or (_allow_any if allow_private else is_public_address)
        self._resolve = resolver
        self._excerpt_bytes = excerpt_bytes
        self._tls: ssl.SSLContext | None = None

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], *, timeout_seconds: float
    ) -> WebhookResponse:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout_seconds):
                return await self._post(httpx.URL(url), body, headers, timeout_seconds, started)
        except WebhookTransportError:
            raise
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise WebhookTransportError(
                "timeout", f"no answer within {timeout_seconds:g}s", latency_ms=_since(started)
            ) from exc
        except httpx.ConnectError as exc:
            raise WebhookTransportError(
                "connect", f"could not connect: {exc}", latency_ms=_since(started)
            ) from exc
        except (httpx.HTTPError, httpx.InvalidURL, ssl.SSLError, OSError) as exc:
            raise WebhookTransportError(
                "protocol", f"{type(exc).__name__}: {exc}", latency_ms=_since(started)
            ) from exc

    async def _post(
        self,
        url: httpx.URL,
        body: bytes,
        headers: Mapping[str, str],
        timeout_seconds: float,
        started: float,
    ) -> WebhookResponse:
        addresses = await self._addresses(url)
        extra = {"Host": url.netloc.decode("ascii"), "Accept-Encoding": "identity"}
        extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
        client = httpx.AsyncClient(
            verify=self._tls_context(),
            follow_redirects=False,
            trust_env=False,
            timeout=httpx.Timeout(timeout_seconds),
        )
        async with client:
            for index, address in enumerate(addresses):
                pinned = url.copy_with(host=address)
                request = client.build_request(
                    "POST",
                    pinned,
                    content=body,
                    headers={**headers, **extra},
                    extensions=extensions,
                )
                try:
                    response = await client.send(request, stream=True)
                except httpx.ConnectError:
                    if index + 1 == len(addresses):
                        raise
                    continue
                latency = _since(started)
                try:
                    excerpt = await self._excerpt(response)
                finally:
                    await response.aclose()
                return WebhookResponse(
                    status_code=response.status_code,
                    body_excerpt=excerpt,
                    latency_ms=latency,
                    retry_after=response.headers.get("retry-after"),
                )
        raise AssertionError("unreachable: there is at least one address")  # pragma: no cover

    async def _addresses(self, url: httpx.URL) -> list[str]:
        """The checked addresses to try, at most ``MAX_ADDRESSES_TRIED``."""
        if url.scheme not in DEFAULT_PORTS:
            raise WebhookTransportError("blocked", f"{url.scheme!r} URLs are not called")
        if url.scheme != "https" and not self._allow_private:
            raise WebhookTransportError("blocked", "only https URLs are called")
        host = url.host
        literal = parse_address(host)
        if literal is not None:
            found: Sequence[str] = [str(literal)]
        else:
            try:
                found = await self._resolve(host, url.port or DEFAULT_PORTS[url.scheme])
            except OSError as exc:
                raise WebhookTransportError("connect", f"could not resolve {host}: {exc}") from exc
        if not found:
            raise WebhookTransportError("connect", f"{host} resolves to no address")
        refused = [a for a in found if (ip := parse_address(a)) is None or not self._allowed(ip)]
        if refused:
            # One bad answer refuses the host: a name that mixes public and private
            # addresses is how rebinding attacks pick their moment.
            raise WebhookTransportError(
                "blocked", f"{host} resolves to an address that is not public: {refused[0]}"
            )
        return list(found[:MAX_ADDRESSES_TRIED])

    async def _excerpt(self, response: httpx.Response) -> str:
        collected = bytearray()
        async for chunk in response.aiter_raw():
            collected.extend(chunk)
            if len(collected) >= self._excerpt_bytes:
                break
        return bytes(collected[: self._excerpt_bytes]).decode("utf-8", errors="replace")

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = httpx.create_ssl_context()
        return self._tls


def _since(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
