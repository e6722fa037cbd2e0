"""What every ``ninefold`` command shares: exit codes, settings, a container per run."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

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


# --- printing, for commands that show records -------------------------------------------


def print_json(value: Any) -> None:
    import msgspec

    print(msgspec.json.format(msgspec.json.encode(value), indent=2).decode())


def when(at: datetime | None) -> str:
    """A time as commands print it: UTC to the second, ``-`` for none."""
    return "-" if at is None else at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def one_line(text: str | None, width: int) -> str:
    """``text`` on one line of at most ``width`` characters (``-`` for none)."""
    if not text:
        return "-"
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def table(rows: Sequence[Sequence[str]]) -> str:
    """Rows as left-aligned columns, the first row being the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
