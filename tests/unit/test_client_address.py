"""The client's address behind trusted proxies: never the part a client could forge."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from entrypoints.http.client import client_address, parse_networks

PROXIES = parse_networks(["10.0.0.0/8", "127.0.0.1"])


def connection(peer: str, forwarded: str | None = None) -> Any:
    headers = {"x-forwarded-for": forwarded} if forwarded is not None else {}
    return SimpleNamespace(client=SimpleNamespace(host=peer), headers=headers)


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    assert client_address(connection("203.0.113.9", "198.51.100.1"), ()) == "203.0.113.9"


def test_an_untrusted_peer_cannot_claim_another_address() -> None:
    assert client_address(connection("203.0.113.9", "198.51.100.1"), PROXIES) == "203.0.113.9"


def test_behind_a_trusted_proxy_the_client_is_the_last_untrusted_hop() -> None:
    forged_then_real = connection("10.1.2.3", "6.6.6.6, 198.51.100.7, 10.9.9.9")

    assert client_address(forged_then_real, PROXIES) == "198.51.100.7"


def test_a_trusted_proxy_without_the_header_is_itself_the_client() -> None:
    assert client_address(connection("127.0.0.1"), PROXIES) == "127.0.0.1"


def test_a_bad_proxy_entry_is_refused() -> None:
    with pytest.raises(ValueError, match="not-an-ip"):
        parse_networks(["not-an-ip"])
