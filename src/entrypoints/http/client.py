"""Who is on the other end: the client's address and user agent.

Behind a reverse proxy the socket's peer is the proxy. When the peer is one of
``NINEFOLD_TRUSTED_PROXIES`` (addresses or networks), the client is the right-most
address in ``X-Forwarded-For`` that is not itself a trusted proxy: the left part of the
header is whatever the client chose to send, so it is never believed. Rate limits and
the sessions' recorded address depend on this.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from litestar.connection import ASGIConnection

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """``10.0.0.0/8``, ``127.0.0.1``, ``::1``... as networks; ValueError names a bad one."""
    return tuple(ipaddress.ip_network(value.strip(), strict=False) for value in values)


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(
    connection: ASGIConnection[Any, Any, Any, Any], trusted: tuple[Network, ...]
) -> str:
    peer = connection.client.host if connection.client else ""
    if not trusted or not _trusted(peer, trusted):
        return peer
    hops = [hop.strip() for hop in connection.headers.get("x-forwarded-for", "").split(",")]
    hops = [hop for hop in hops if hop]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop
    return hops[0] if hops else peer


def client_of(connection: ASGIConnection[Any, Any, Any, Any]) -> dict[str, str]:
    """``ip`` and ``user_agent``, as the use cases take them."""
    trusted: tuple[Network, ...] = connection.app.state.trusted_proxies
    return {
        "ip": client_address(connection, trusted),
        "user_agent": connection.headers.get("user-agent", ""),
    }
