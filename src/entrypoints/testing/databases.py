"""Test databases: migrated once per session, copied per test.

SQLite: the migrated template file is copied for each test. PostgreSQL: each test gets
``CREATE DATABASE … TEMPLATE`` of a migrated template database, dropped afterwards. Either
way a test can commit freely, open several connections, and sees nothing of another test.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from adapters.sql.database import create_engine, normalize_url
from adapters.sql.migrations.runner import upgrade

POSTGRES_URL_VARIABLE = "NINEFOLD_TEST_POSTGRES_URL"
DEFAULT_CI_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def running_in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def postgres_server_url() -> str | None:
    """The PostgreSQL server for the PostgreSQL leg, if this run has one."""
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if url:
        return url
    return DEFAULT_CI_POSTGRES_URL if running_in_ci() else None


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


class SqliteTemplate:
    def __init__(self, folder: Path) -> None:
        self.path = folder / "template.db"
        asyncio.run(_migrate(f"sqlite:///{self.path}"))
        # Fold the WAL into the main file so that copying one file copies everything.
        import sqlite3

        with sqlite3.connect(self.path) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def new_database(self, folder: Path) -> str:
        target = folder / "test.db"
        shutil.copyfile(self.path, target)
        return f"sqlite+aiosqlite:///{target}"


class PostgresTemplate:
    """A migrated template database on the server named by ``server_url``."""

    def __init__(self, server_url: str) -> None:
        self.server_url = normalize_url(server_url)
        self.template = f"ninefold_tmpl_{secrets.token_hex(4)}"
        asyncio.run(self._admin(f'CREATE DATABASE "{self.template}"'))
        asyncio.run(_migrate(self._url_for(self.template)))

    def _url_for(self, database: str) -> str:
        return (
            make_url(self.server_url).set(database=database).render_as_string(hide_password=False)
        )

    async def _admin(self, *statements: str) -> None:
        engine = create_engine(self.server_url)
        try:
            async with engine.connect() as connection:
                conn = await connection.execution_options(isolation_level="AUTOCOMMIT")
                for statement in statements:
                    await conn.execute(text(statement))
        finally:
            await engine.dispose()

    def new_database(self) -> tuple[str, str]:
        """A migrated database: ``(name, url)``; ``drop(name)`` when done."""
        name = f"ninefold_test_{secrets.token_hex(6)}"
        asyncio.run(self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
        return name, self._url_for(name)

    def new_empty_database(self) -> tuple[str, str]:
        """A database no migration has touched: ``(name, url)``."""
        name = f"ninefold_empty_{secrets.token_hex(6)}"
        asyncio.run(self._admin(f'CREATE DATABASE "{name}"'))
        return name, self._url_for(name)

    def drop(self, name: str) -> None:
        asyncio.run(self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def close(self) -> None:
        self.drop(self.template)


async def check_reachable(server_url: str) -> None:
    engine = create_engine(server_url)
    try:
        async with engine.connect() as conn:
            await asyncio.wait_for(conn.execute(text("SELECT 1")), 5)
    finally:
        await engine.dispose()
