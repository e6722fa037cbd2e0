"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.openapi import ResponseSpec
from sqlalchemy import text

from adapters.limits.limiter import LimitsRateLimiter
from adapters.sql.migrations.runner import current_revisions
from entrypoints.containers import ApplicationContainer

CHECK_TIMEOUT_SECONDS = 2.0


class Liveness(msgspec.Struct):
    status: str


class Check(msgspec.Struct):
    name: str
    ok: bool
    detail: str | None = None


class Readiness(msgspec.Struct):
    status: str
    checks: list[Check]


async def _database(container: ApplicationContainer) -> Check:
    async with container.database.engine().connect() as conn:
        await conn.execute(text("SELECT 1"))
    return Check("database", True)


async def _migrations(container: ApplicationContainer, heads: frozenset[str]) -> Check:
    applied = await current_revisions(container.database.engine())
    pending = sorted(heads - applied)
    if pending:
        return Check(
            "migrations",
            False,
            "not applied: " + ", ".join(pending) + " (run 'ninefold db upgrade')",
        )
    return Check("migrations", True)


async def _rate_limits(container: ApplicationContainer) -> Check:
    """Only with Redis storage. The limiter fails open, so the app still serves without
    it, but unthrottled: operators should know."""
    limiter = container.kernel.rate_limiter()
    healthy = await limiter.healthy() if isinstance(limiter, LimitsRateLimiter) else True
    return Check("rate_limits", healthy, None if healthy else "Redis does not answer")


async def _jobs(container: ApplicationContainer) -> Check:
    """Only with SAQ: without its broker no job is enqueued or run (requests still
    commit, and their jobs wait in the outbox)."""
    healthy = await container.workflows.saq_store().ready()
    return Check("jobs", healthy, None if healthy else "SAQ's broker does not answer")


async def _timed(name: str, check: Any) -> Check:
    try:
        result: Check = await asyncio.wait_for(check, CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        return Check(name, False, f"no answer within {CHECK_TIMEOUT_SECONDS:g}s")
    except Exception as exc:
        return Check(name, False, f"{type(exc).__name__}: {exc}")
    return result


class HealthController(Controller):
    path = "/health"
    tags = ["health"]

    @get("/live", summary="The process is up", cache=False)
    async def live(self) -> Liveness:
        return Liveness("ok")

    @get(
        "/ready",
        summary="The app can serve: database reachable, migrations current",
        responses={503: ResponseSpec(data_container=Readiness, description="A check failed")},
        cache=False,
    )
    async def ready(self, state: State) -> Response[Readiness]:
        container: ApplicationContainer = state.container
        heads: frozenset[str] = state.migration_heads
        probes = [
            _timed("database", _database(container)),
            _timed("migrations", _migrations(container, heads)),
        ]
        settings = container.settings()
        if settings.rate_limit_storage == "redis":
            probes.append(_timed("rate_limits", _rate_limits(container)))
        if settings.jobs_backend == "saq":
            probes.append(_timed("jobs", _jobs(container)))
        checks = list(await asyncio.gather(*probes))
        ok = all(check.ok for check in checks)
        return Response(
            Readiness("ok" if ok else "unavailable", checks), status_code=200 if ok else 503
        )
