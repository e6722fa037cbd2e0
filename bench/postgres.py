"""A throwaway PostgreSQL database for one benchmark leg: created fresh, always dropped.

The server is reached with asyncpg (an app dependency) as ``url`` (default
``postgresql://postgres@127.0.0.1:5432``); the database is ``ninefold_bench_<random>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Iterator

from sqlalchemy.engine import make_url

CONNECT_TIMEOUT = 5.0


class PostgresUnavailableError(RuntimeError):
    """The server could not be reached, or refused to create the database."""


def masked(url: str) -> str:
    """``url`` with its password hidden, for printing."""
    return make_url(url).render_as_string(hide_password=True)


def with_database(url: str, database: str) -> str:
    """``url`` (any ``postgresql+driver://`` spelling) as a plain URL naming ``database``."""
    return (
        make_url(url)
        .set(drivername="postgresql", database=database)
        .render_as_string(hide_password=False)
    )


async def _execute(url: str, statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(
        with_database(url, make_url(url).database or "postgres"), timeout=CONNECT_TIMEOUT
    )
    try:
        await connection.execute(statement)
    finally:
        await connection.close(timeout=CONNECT_TIMEOUT)


def _run(url: str, statement: str) -> None:
    asyncio.run(asyncio.wait_for(_execute(url, statement), CONNECT_TIMEOUT * 3))


@contextlib.contextmanager
def fresh_database(url: str) -> Iterator[str]:
    """Create ``ninefold_bench_<random>`` on the server at ``url``, yield its URL, drop
    it on the way out (errors and Ctrl-C included; ``WITH (FORCE)`` ends connections a
    killed server left behind)."""
    name = f"ninefold_bench_{secrets.token_hex(6)}"
    try:
        _run(url, f'CREATE DATABASE "{name}"')
    except Exception as exc:  # refused, timed out, authentication, permission, no asyncpg
        raise PostgresUnavailableError(f"{type(exc).__name__}: {exc}") from exc
    try:
        yield with_database(url, name)
    finally:
        try:
            _run(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # PostgreSQL >= 13
        except Exception as exc:
            print(f"warning: could not drop database {name} ({type(exc).__name__}: {exc})")
