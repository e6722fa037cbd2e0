"""The Redis leg of the test suite, run like the PostgreSQL leg.

Tests marked ``@pytest.mark.redis`` need a Redis server: the one named by
``NINEFOLD_TEST_REDIS_URL``, or ``redis://127.0.0.1:6379/0`` when ``CI`` is true. Under
CI an unreachable server fails the run; on a laptop without the variable the leg is
dropped in one go and the report header says so.

- ``redis_url``: the server's URL (session-wide; checked once with ``PING``).
- ``redis_key_prefix``: a prefix of this test's own (``ninefold-test:<hex>``); every key
  under ``<prefix>:`` is deleted after the test, so tests and developers can share one
  Redis.

Loaded by ``entrypoints.testing.plugin``; a test run may also name it with
``-p entrypoints.testing.redis``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import coredis
import pytest

from entrypoints.testing.databases import running_in_ci

REDIS_URL_VARIABLE = "NINEFOLD_TEST_REDIS_URL"
DEFAULT_CI_REDIS_URL = "redis://127.0.0.1:6379/0"
TIMEOUT_SECONDS = 5.0


def redis_server_url() -> str | None:
    """The Redis server for the Redis leg, if this run has one."""
    url = os.environ.get(REDIS_URL_VARIABLE)
    if url:
        return url
    return DEFAULT_CI_REDIS_URL if running_in_ci() else None


def shown(url: str) -> str:
    """``url`` with its password masked, for reports."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _client(url: str) -> coredis.Redis[bytes]:
    return coredis.Redis.from_url(
        url, connect_timeout=TIMEOUT_SECONDS, stream_timeout=TIMEOUT_SECONDS
    )


async def check_reachable(url: str) -> None:
    client = _client(url)
    try:
        await client.ping()
    finally:
        client.connection_pool.disconnect()


async def delete_keys(url: str, pattern: str) -> int:
    """Delete every key matching ``pattern`` (``SCAN``, so it never blocks the server)."""
    client = _client(url)
    try:
        keys = tuple([key async for key in client.scan_iter(match=pattern, count=500)])
        return await client.delete(keys) if keys else 0
    finally:
        client.connection_pool.disconnect()


async def count_keys(url: str, pattern: str) -> int:
    client = _client(url)
    try:
        return len([key async for key in client.scan_iter(match=pattern, count=500)])
    finally:
        client.connection_pool.disconnect()


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = redis_server_url()
    if url is None:
        pytest.skip(f"Redis leg skipped: set {REDIS_URL_VARIABLE} to run it")
    try:
        asyncio.run(check_reachable(url))
    except Exception as exc:
        message = f"Redis at {shown(url)} is unreachable ({type(exc).__name__}: {exc})"
        if running_in_ci():
            pytest.fail(f"{message}; the Redis leg is mandatory under CI", pytrace=False)
        pytest.skip(f"Redis leg skipped: {message}")
    return url


@pytest.fixture
async def redis_key_prefix(redis_url: str) -> AsyncIterator[str]:
    prefix = f"ninefold-test:{secrets.token_hex(6)}"
    yield prefix
    await delete_keys(redis_url, f"{prefix}:*")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"redis: needs the Redis leg ({REDIS_URL_VARIABLE}, or CI=true)"
    )


def pytest_report_header(config: pytest.Config) -> str:
    url = redis_server_url()
    if url is None:
        return f"Redis leg: skipped (set {REDIS_URL_VARIABLE}, or CI=true, to run it)"
    return f"Redis leg: on, server {shown(url)}" + (
        " (mandatory under CI)" if running_in_ci() else ""
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without a Redis server, drop that leg in one go (the header says why) rather than
    reporting one skip per test."""
    if redis_server_url() is not None:
        return
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        (dropped if item.get_closest_marker("redis") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
