"""What every ``ninefold`` command shares: exit codes, settings, a container per run."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from entrypoints.settings import Settings, effective_configuration, ensure_secret_key, load_settings

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_CONFIG = 78

if TYPE_CHECKING:
    from entrypoints.containers import ApplicationContainer


def settings_for_command() -> Settings:
    return ensure_secret_key(load_settings())


class DatabaseError(Exception):
    """The database could not be reached or refused the work; the message says which."""


async def with_container(
    settings: Settings, work: Callable[[ApplicationContainer], Awaitable[int]]
) -> int:
    from sqlalchemy.exc import DBAPIError

    from entrypoints.containers import build_container, close_container

    container = build_container(settings)
    try:
        return await work(container)
    except (DBAPIError, OSError) as exc:
        where = effective_configuration(settings)["NINEFOLD_DATABASE_URL"]
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise DatabaseError(f"database {where}: {type(exc).__name__}: {reason}") from exc
    finally:
        await close_container(container)
