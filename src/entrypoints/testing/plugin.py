"""Pytest fixtures for ninefold and its forks.

- ``clock``: a ``FixedClock`` the container uses; move time with ``clock.advance``.
- ``database_url``: a fresh, migrated database per test. Parametrized over the backends:
  SQLite always; PostgreSQL when ``NINEFOLD_TEST_POSTGRES_URL`` is set or ``CI`` is true
  (then an unreachable server fails the run; on a laptop the leg is skipped).
- ``settings``, ``container``, ``app``, ``client``: the real composition root on that
  database, with the worker off (drive the relay with ``container.workflows.outbox_relay()``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from dependency_injector import providers
from litestar import Litestar

from core.kernel import FixedClock
from entrypoints.containers import ApplicationContainer, build_container, close_container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from entrypoints.testing.databases import (
    POSTGRES_URL_VARIABLE,
    PostgresTemplate,
    SqliteTemplate,
    check_reachable,
    postgres_server_url,
    running_in_ci,
)

pytest_plugins = ["entrypoints.testing.redis"]  # the Redis leg: redis_url, redis_key_prefix

TEST_BASE_URL = "https://testserver.local"  # https: so Secure cookies travel
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> SqliteTemplate:
    return SqliteTemplate(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[PostgresTemplate]:
    server = postgres_server_url()
    if server is None:
        pytest.skip(f"PostgreSQL leg skipped: set {POSTGRES_URL_VARIABLE} to run it")
    try:
        asyncio.run(check_reachable(server))
    except Exception as exc:
        message = f"PostgreSQL at {server} is unreachable ({type(exc).__name__}: {exc})"
        if running_in_ci():
            pytest.fail(f"{message}; the PostgreSQL leg is mandatory under CI", pytrace=False)
        pytest.skip(f"PostgreSQL leg skipped: {message}")
    template = PostgresTemplate(server)
    yield template
    template.close()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database of its own for this test, on each backend in turn."""
    if request.param == "sqlite":
        template: SqliteTemplate = request.getfixturevalue("sqlite_template")
        yield template.new_database(tmp_path)
        return
    postgres: PostgresTemplate = request.getfixturevalue("postgres_template")
    name, url = postgres.new_database()
    yield url
    postgres.drop(name)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        data_dir=str(tmp_path / "var"),
        database_url=database_url,
        secret_key="test-secret-" + "x" * 40,
        password_hasher="fast-insecure",
        run_worker=False,
        log_level="warning",
    )


def settings_with(settings: Settings, **changes: Any) -> Settings:
    return msgspec.structs.replace(settings, **changes)


@pytest.fixture
async def container(settings: Settings, clock: FixedClock) -> AsyncIterator[ApplicationContainer]:
    built = build_container(settings)
    built.kernel.clock.override(providers.Object(clock))
    yield built
    await close_container(built)


@pytest.fixture
def app(container: ApplicationContainer) -> Litestar:
    return create_app(container, run_worker=False)


@asynccontextmanager
async def serve_in_process(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to ``app`` in this event loop, inside the app's lifespan.

    Litestar's own test clients run the lifespan in another thread's event loop; the
    database pool and the worker must live in the loop that runs the requests. The
    lifespan runs in a task of its own because pytest may set a fixture up and tear it
    down in different tasks, and the lifespan's task group must exit where it entered.
    """
    started, stopping = asyncio.Event(), asyncio.Event()

    async def run_lifespan() -> None:
        async with app.lifespan():
            started.set()
            await stopping.wait()

    lifespan = asyncio.create_task(run_lifespan())
    ready = asyncio.create_task(started.wait())
    await asyncio.wait({lifespan, ready}, return_when=asyncio.FIRST_COMPLETED)
    if not ready.done():
        ready.cancel()
        lifespan.result()  # start-up failed: raise its error here
    try:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]  # ASGI, typed stricter
        async with httpx.AsyncClient(transport=transport, base_url=TEST_BASE_URL) as client:
            yield client
    finally:
        stopping.set()
        await lifespan


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_in_process(app) as test_client:
        yield test_client


def pytest_report_header(config: pytest.Config) -> str:
    server = postgres_server_url()
    if server is None:
        return f"PostgreSQL leg: skipped (set {POSTGRES_URL_VARIABLE}, or CI=true, to run it)"
    return f"PostgreSQL leg: on, server {server}" + (
        " (mandatory under CI)" if running_in_ci() else ""
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without a PostgreSQL server, drop that leg in one go (the header says why) rather
    than reporting one skip per test."""
    if postgres_server_url() is not None:
        return
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        (dropped if item.get_closest_marker("postgres") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
