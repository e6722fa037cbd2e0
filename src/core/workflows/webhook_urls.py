"""Which URLs a webhook endpoint may have, and which addresses a delivery may reach.

A customer chooses the URL, so without care a webhook is a way to make our servers
call our own network (SSRF): the metadata service at 169.254.169.254, a database on
10.0.0.5, an admin page on localhost. So endpoint URLs are ``https`` only, their host
must not be (or name) a private, loopback, link-local or otherwise non-public address,
and the transport checks the addresses a host name resolves to again at send time
(``is_public_address``), since DNS can answer differently later.

``allow_private`` (development and tests only) lifts all of this, so that a receiver on
``http://127.0.0.1:8080`` can be used.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from core.workflows.webhook_errors import InvalidWebhookUrlError

URL_MAX_LENGTH = 2000
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa", ".localdomain")
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_public_address(address: IpAddress) -> bool:
    """Whether ``address`` is on the public internet: not private, loopback,
    link-local, multicast, reserved, shared (CGNAT) or unspecified; an IPv4 address
    mapped or embedded in IPv6 is judged as itself."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            return is_public_address(embedded)
        if address.teredo is not None:
            return False
    return address.is_global and not (address.is_multicast or address.is_reserved)


def parse_address(host: str) -> IpAddress | None:
    """The IP address ``host`` is written as (``[::1]`` too), or None for a name."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def check_endpoint_url(url: str, *, allow_private: bool) -> str:
    """``url`` trimmed, or ``InvalidWebhookUrlError`` saying what is wrong with it."""
    url = url.strip()
    if not url or len(url) > URL_MAX_LENGTH:
        raise InvalidWebhookUrlError(f"a URL has 1 to {URL_MAX_LENGTH} characters", field="url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidWebhookUrlError(f"not a URL: {exc}", field="url") from exc
    schemes = {"https", "http"} if allow_private else {"https"}
    if parts.scheme not in schemes:
        raise InvalidWebhookUrlError("the URL must start with https://", field="url")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise InvalidWebhookUrlError("the URL has no host", field="url")
    if parts.username is not None or parts.password is not None:
        raise InvalidWebhookUrlError(
            "the URL must not carry credentials; verify deliveries by their signature",
            field="url",
        )
    if parts.fragment:
        raise InvalidWebhookUrlError("the URL must not have a #fragment", field="url")
    if port == 0:
        raise InvalidWebhookUrlError("the URL's port must be between 1 and 65535", field="url")
    if not allow_private and not is_public_host(host):
        raise InvalidWebhookUrlError(
            "the URL's host must be on the public internet, not a private, loopback or "
            "link-local address",
            field="url",
        )
    return url


def is_public_host(host: str) -> bool:
    """Whether a URL's host, as written, can be public: a public IP address, or a name
    that is not reserved for local use. (Names are resolved and checked at send time.)"""
    address = parse_address(host)
    if address is not None:
        return is_public_address(address)
    if host in _LOCAL_NAMES or host.endswith(_LOCAL_SUFFIXES) or "." not in host:
        return False
    # A name made of digits and dots that is not a valid address ("0x7f.1", "2130706433"
    # are spelled differently): some resolvers read them as numbers, so refuse them.
    last = host.rsplit(".", 1)[-1]
    return not (last.isdigit() or last.startswith("0x"))
