"""Helpers for each system's ``DataSubjectPart`` (export and erasure) on its own tables:
rows as JSON-able records, and pseudonymizing text in place.

``scrub`` replaces a person's id and email wherever they stand alone inside a column's
value (a JSON payload, a message body, a raw webhook; never inside a longer address or
token), case-insensitively, in text and binary columns alike, on SQLite and PostgreSQL.
``sweep`` scrubs every textual column of a system's tables: the safety net after a
part's own per-table decisions, so that a value copied somewhere unexpected (an event
payload, an error message) is pseudonymized too.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, LargeBinary, MetaData, String, Table, Text, cast, func, or_
from sqlalchemy import select as sql_select
from sqlalchemy import update as sql_update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

SECRET_COLUMNS = frozenset(
    {"password_hash", "token_hash", "secret_hash", "code_hash", "totp_secret", "secret"}
)


async def records(
    session: AsyncSession, query: Select[Any], *, leave_out: Collection[str] = SECRET_COLUMNS
) -> list[dict[str, Any]]:
    """The query's rows as records for an archive: secrets left out, bytes as text."""
    found = []
    for row in await session.execute(query):
        record: dict[str, Any] = {}
        for key, value in row._mapping.items():
            name = str(key)
            if name not in leave_out:
                record[name] = _plain(value)
        found.append(record)
    return found


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _textual(column: Any) -> bool:
    return isinstance(column.type, String | Text | LargeBinary)


def _contains(session: AsyncSession, column: Any, needle: str) -> ColumnElement[bool]:
    if isinstance(column.type, LargeBinary):
        if session.get_bind().dialect.name == "postgresql":
            text: Any = func.encode(column, "escape")
        else:
            text = cast(column, Text())
    else:
        text = column
    return func.lower(text).contains(needle.lower(), autoescape=True)


# Where a needle stands alone: an email not inside a longer address (jimbob@… is not
# bob@…, nor is bob@example.com.au), an id not inside a longer token (usr_1 in usr_12),
# a name as a whole word.
_EMAIL_BEFORE = r"(?<![A-Za-z0-9.!#$%&*+^_`{|}~\-])"
_EMAIL_AFTER = r"(?![A-Za-z0-9\-]|\.[A-Za-z0-9])"
_TOKEN_BEFORE, _TOKEN_AFTER = r"(?<![A-Za-z0-9])", r"(?![A-Za-z0-9])"


def _pattern(needle: str, whole_words: bool) -> str:
    escaped = re.escape(needle)
    if whole_words:
        return rf"(?<!\w){escaped}(?!\w)"
    if "@" in needle:
        return _EMAIL_BEFORE + escaped + _EMAIL_AFTER
    return _TOKEN_BEFORE + escaped + _TOKEN_AFTER


def _replace(value: Any, needles: Mapping[str, str], whole_words: bool = False) -> Any:
    if isinstance(value, str):
        text = value
        for needle, replacement in needles.items():
            pattern = re.compile(_pattern(needle, whole_words), re.I)
            text = pattern.sub(replacement.replace("\\", "\\\\"), text)
        return text
    if isinstance(value, bytes):
        data = value
        for needle, replacement in needles.items():
            raw = re.compile(_pattern(needle, whole_words).encode(), re.I)
            data = raw.sub(replacement.encode().replace(b"\\", b"\\\\"), data)
        return data
    return value


async def scrub(
    session: AsyncSession,
    table: Table,
    replacements: Mapping[str, str],
    columns: Iterable[str] | None = None,
    *,
    whole_words: bool = False,
) -> int:
    """Replace each needle of ``replacements`` inside the values of ``columns`` (every
    textual column when None); returns how many rows changed. ``whole_words``: only
    where the needle is not part of a longer word (for names)."""
    needles = {needle: repl for needle, repl in replacements.items() if len(needle) >= 3}
    names = [c.name for c in table.columns if _textual(c)] if columns is None else list(columns)
    if not needles or not names:
        return 0
    key = list(table.primary_key.columns)
    conditions = [_contains(session, table.c[name], needle) for name in names for needle in needles]
    selected = [*key, *(table.c[name] for name in names if table.c[name] not in key)]
    rows = (await session.execute(sql_select(*selected).where(or_(*conditions)))).all()
    changed = 0
    for row in rows:
        values = row._mapping
        changes = {}
        for name in names:
            before = values[table.c[name]]
            after = _replace(before, needles, whole_words)
            if after != before:
                changes[name] = after
        if changes:
            where = [column == values[column] for column in key]
            await session.execute(sql_update(table).where(*where).values(**changes))
            changed += 1
    return changed


async def sweep(
    session: AsyncSession,
    metadata: MetaData,
    replacements: Mapping[str, str],
    *,
    skip: Collection[str] = (),
) -> int:
    """``scrub`` every table of a system's metadata but those named in ``skip``."""
    changed = 0
    for table in metadata.sorted_tables:
        if table.name not in skip:
            changed += await scrub(session, table, replacements)
    return changed
