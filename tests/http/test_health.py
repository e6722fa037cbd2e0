"""Liveness and readiness."""

from __future__ import annotations

import httpx
import pytest

from adapters.sql.migrations.runner import downgrade
from entrypoints.containers import ApplicationContainer, build_container, close_container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from entrypoints.testing.plugin import serve_in_process, settings_with

Client = httpx.AsyncClient


async def test_live_answers_ok(client: Client) -> None:
    response = await client.get("/health/live")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_answers_ok_when_the_database_is_reachable_and_migrated(client: Client) -> None:
    response = await client.get("/health/ready")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {check["name"]: check["ok"] for check in body["checks"]} == {
        "database": True,
        "migrations": True,
    }


async def test_ready_is_503_naming_the_migrations_that_are_not_applied(
    client: Client, container: ApplicationContainer
) -> None:
    await downgrade(container.database.engine(), "identity@base")

    response = await client.get("/health/ready")

    assert response.status_code == 503
    checks = {check["name"]: check for check in response.json()["checks"]}
    assert checks["database"]["ok"] is True
    assert checks["migrations"]["ok"] is False
    assert "identity_0007" in checks["migrations"]["detail"]


async def test_ready_is_503_when_the_database_is_unreachable(settings: Settings) -> None:
    unreachable = settings_with(
        settings, database_url="postgresql://nobody@127.0.0.1:1/none", database_pool_size=1
    )
    container = build_container(unreachable)
    try:
        async with serve_in_process(create_app(container, run_worker=False)) as client:
            response = await client.get("/health/ready")
    finally:
        await close_container(container)

    assert response.status_code == 503
    checks = {check["name"]: check for check in response.json()["checks"]}
    assert checks["database"]["ok"] is False
    assert checks["database"]["detail"]


async def test_with_redis_rate_limits_ready_checks_redis_too(settings: Settings) -> None:
    unreachable = settings_with(
        settings, rate_limit_storage="redis", redis_url="redis://127.0.0.1:1/0"
    )
    container = build_container(unreachable)
    try:
        async with serve_in_process(create_app(container, run_worker=False)) as client:
            response = await client.get("/health/ready")
    finally:
        await close_container(container)

    assert response.status_code == 503
    checks = {check["name"]: check for check in response.json()["checks"]}
    assert checks["rate_limits"]["ok"] is False
    assert checks["database"]["ok"] is True


@pytest.mark.redis
async def test_a_reachable_redis_passes_the_rate_limits_check(
    settings: Settings, redis_url: str
) -> None:
    container = build_container(
        settings_with(settings, rate_limit_storage="redis", redis_url=redis_url)
    )
    try:
        async with serve_in_process(create_app(container, run_worker=False)) as client:
            response = await client.get("/health/ready")
    finally:
        await close_container(container)

    assert response.status_code == 200
    assert {c["name"] for c in response.json()["checks"]} >= {"rate_limits"}


async def test_with_saq_ready_checks_its_broker(settings: Settings) -> None:
    unreachable = settings_with(settings, jobs_backend="saq", saq_url="redis://127.0.0.1:1/0")
    container = build_container(unreachable)
    try:
        async with serve_in_process(create_app(container, run_worker=False)) as client:
            response = await client.get("/health/ready")
    finally:
        await close_container(container)

    assert response.status_code == 503
    checks = {check["name"]: check for check in response.json()["checks"]}
    assert checks["jobs"] == {"name": "jobs", "ok": False, "detail": "SAQ's broker does not answer"}
    assert checks["database"]["ok"] is True


@pytest.mark.redis
async def test_a_reachable_saq_broker_passes_the_jobs_check(
    settings: Settings, redis_url: str, redis_key_prefix: str
) -> None:
    container = build_container(
        settings_with(settings, jobs_backend="saq", saq_url=redis_url, saq_prefix=redis_key_prefix)
    )
    try:
        async with serve_in_process(create_app(container, run_worker=False)) as client:
            response = await client.get("/health/ready")
    finally:
        await close_container(container)

    assert response.status_code == 200
    checks = {check["name"]: check for check in response.json()["checks"]}
    assert checks["jobs"]["ok"] is True
