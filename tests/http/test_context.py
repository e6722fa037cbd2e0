"""Request ids and security headers on every response, errors included."""

from __future__ import annotations

import re

import httpx
import pytest

from entrypoints.containers import build_container, close_container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from entrypoints.testing.plugin import serve_in_process, settings_with

Client = httpx.AsyncClient


async def test_a_request_without_an_id_gets_one(client: Client) -> None:
    response = await client.get("/health/live")

    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


async def test_a_sane_incoming_request_id_is_echoed(client: Client) -> None:
    response = await client.get("/health/live", headers={"X-Request-ID": "lb-7f3a9c21.abc"})

    assert response.headers["x-request-id"] == "lb-7f3a9c21.abc"


@pytest.mark.parametrize(
    "incoming",
    ["short", "x" * 129, "has space in it", "<script>alert(1)</script>", "ünïcode-id-123"],
)
async def test_an_insane_incoming_request_id_is_replaced(client: Client, incoming: str) -> None:
    response = await client.get("/health/live", headers={"X-Request-ID": incoming.encode("utf-8")})  # type: ignore[dict-item]

    assert response.headers["x-request-id"] != incoming
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


@pytest.mark.parametrize("path", ["/health/live", "/no/such/route"])
async def test_security_headers_are_on_every_response(client: Client, path: str) -> None:
    response = await client.get(path)

    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert response.headers["x-frame-options"] == "DENY"
    assert "strict-transport-security" not in response.headers, "HSTS is for production only"


async def test_a_host_outside_the_allowed_hosts_gets_a_400_problem_even_on_unknown_paths(
    settings: Settings,
) -> None:
    restricted = settings_with(settings, allowed_hosts=["app.example.com"])
    container = build_container(restricted)
    try:
        async with serve_in_process(create_app(container, run_worker=False)) as client:
            refused = await client.get("/no/such/route", headers={"Host": "evil.example.org"})
            served = await client.get("/health/live", headers={"Host": "app.example.com:8000"})
    finally:
        await close_container(container)

    assert refused.status_code == 400
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "https://ninefold.dev/problems/invalid-host"
    assert refused.headers["x-content-type-options"] == "nosniff"
    assert served.status_code == 200
