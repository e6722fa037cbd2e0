"""The audit log in SQL (``AuditStore``), in the caller's session, and the unit of
work's observer that turns auditable events into entries in the same transaction.

Appends lock the head row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's writers are
serialized already by ``BEGIN IMMEDIATE``), read the last seq and hash, and insert
after them, so two transactions never chain onto the same entry.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import Select, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.safety.audit_tables import audit_entries, audit_head
from adapters.sql.safety.stores import dialect_insert
from core.kernel import DomainEvent, IdGenerator
from core.safety.audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditFilter,
    AuditRecord,
    chain,
    names,
    pseudonymization,
    record_of,
    superseded_by,
)
from core.safety.context import ActorType, RequestContext, current_context

HEAD_ID = 1
_REWRITTEN = (
    "actor_id",
    "impersonator_id",
    "target_id",
    "before",
    "after",
    "reason",
    "ip",
    "user_agent",
    "salt",
    "pseudonymized_by",
)


def _json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else msgspec.json.encode(value).decode()


def _row(entry: AuditEntry) -> dict[str, Any]:
    row = msgspec.structs.asdict(entry)
    row["actor_type"] = entry.actor_type.value
    row["before"] = _json(entry.before)
    row["after"] = _json(entry.after)
    return row


def _entry(row: Any) -> AuditEntry:
    values = dict(row._mapping)
    values["actor_type"] = ActorType(values["actor_type"])
    for field in ("before", "after"):
        if values[field] is not None:
            values[field] = msgspec.json.decode(values[field])
    return AuditEntry(**values)


def _escaped(value: str) -> str:
    """``value`` with LIKE's wildcards (and the escape) escaped by a backslash."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like(value: str) -> str:
    return f"%{_escaped(value)}%"


def _filtered(statement: Select[Any], where: AuditFilter | None) -> Select[Any]:
    if where is None:
        return statement
    c = audit_entries.c
    if where.actor_id:
        statement = statement.where(c.actor_id == where.actor_id)
    if where.action:
        if where.action.endswith(".*"):
            prefix = _escaped(where.action[:-1]) + "%"
            statement = statement.where(c.action.like(prefix, escape="\\"))
        else:
            statement = statement.where(c.action == where.action)
    if where.target_type:
        statement = statement.where(c.target_type == where.target_type)
    if where.target_id:
        statement = statement.where(c.target_id == where.target_id)
    if where.workspace_id:
        statement = statement.where(c.workspace_id == where.workspace_id)
    if where.since:
        statement = statement.where(c.at >= where.since)
    if where.until:
        statement = statement.where(c.at < where.until)
    return statement


class SqlAuditStore:
    def __init__(self, session: AsyncSession, ids: IdGenerator) -> None:
        self._session = session
        self._ids = ids

    async def _lock_head(self) -> tuple[int, str]:
        locked = select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == HEAD_ID)
        found = (await self._session.execute(locked.with_for_update())).first()
        if found is None:  # a database migrated without the genesis row
            await self._session.execute(
                dialect_insert(self._session, audit_head)
                .values(id=HEAD_ID, seq=0, hash=GENESIS_HASH)
                .on_conflict_do_nothing(index_elements=["id"])
            )
            found = (await self._session.execute(locked.with_for_update())).one()
        return int(found.seq), str(found.hash)

    async def _move_head(self, seq: int, hash_: str) -> None:
        await self._session.execute(
            update(audit_head).where(audit_head.c.id == HEAD_ID).values(seq=seq, hash=hash_)
        )

    async def append(self, records: Sequence[AuditRecord], now: datetime) -> list[AuditEntry]:
        if not records:
            return []
        head_seq, head_hash = await self._lock_head()
        entries = chain(records, head_seq=head_seq, head_hash=head_hash, ids=self._ids, now=now)
        await self._session.execute(audit_entries.insert(), [_row(e) for e in entries])
        await self._move_head(entries[-1].seq, entries[-1].hash)
        return entries

    async def head(self) -> tuple[int, str]:
        found = (
            await self._session.execute(
                select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == HEAD_ID)
            )
        ).first()
        return (int(found.seq), str(found.hash)) if found else (0, GENESIS_HASH)

    async def page(
        self, where: AuditFilter, *, before_seq: int | None, limit: int
    ) -> list[AuditEntry]:
        statement = _filtered(select(audit_entries), where)
        if before_seq is not None:
            statement = statement.where(audit_entries.c.seq < before_seq)
        rows = await self._session.execute(
            statement.order_by(audit_entries.c.seq.desc()).limit(limit)
        )
        return [_entry(row) for row in rows.all()]

    async def scan(
        self, where: AuditFilter | None = None, *, batch: int = 500
    ) -> AsyncIterator[AuditEntry]:
        after = 0
        while True:
            statement = _filtered(select(audit_entries), where).where(audit_entries.c.seq > after)
            rows = (
                await self._session.execute(statement.order_by(audit_entries.c.seq).limit(batch))
            ).all()
            for row in rows:
                yield _entry(row)
            if len(rows) < batch:
                return
            after = int(rows[-1].seq)

    async def get(self, seq: int) -> AuditEntry | None:
        row = (
            await self._session.execute(select(audit_entries).where(audit_entries.c.seq == seq))
        ).first()
        return _entry(row) if row else None

    async def pseudonymize(
        self, user_id: str, pseudonym: str, now: datetime, context: RequestContext | None = None
    ) -> AuditEntry | None:
        """See ``AuditStore.pseudonymize``. Under the head's lock: the entries naming
        the user, and all entries of the pseudonymizations those were rewritten by
        before (taken over), are rewritten and vouched for by one new entry."""
        head_seq, head_hash = await self._lock_head()
        c = audit_entries.c
        naming = or_(
            c.actor_id == user_id,
            c.impersonator_id == user_id,
            c.target_id.like(_like(user_id), escape="\\"),
            c.before.like(_like(user_id), escape="\\"),
            c.after.like(_like(user_id), escape="\\"),
            c.reason.like(_like(user_id), escape="\\"),
        )
        rows = await self._session.execute(select(audit_entries).where(naming).order_by(c.seq))
        # LIKE finds candidates; ``names`` keeps those where the value stands alone.
        named = [entry for entry in map(_entry, rows.all()) if names(entry, user_id)]
        if not named:
            return None
        held_before: list[AuditEntry] = []
        superseded = superseded_by(named)
        if superseded:
            rows = await self._session.execute(
                select(audit_entries).where(c.pseudonymized_by.in_(superseded))
            )
            held_before = [_entry(row) for row in rows.all()]
        change = pseudonymization(
            named,
            held_before,
            user_id=user_id,
            pseudonym=pseudonym,
            head_seq=head_seq,
            head_hash=head_hash,
            ids=self._ids,
            now=now,
            context=context,
        )
        for entry in change.rewritten:
            row = _row(entry)
            personal = {name: row[name] for name in _REWRITTEN}
            await self._session.execute(
                update(audit_entries).where(c.seq == entry.seq).values(**personal)
            )
        if change.taken_over:
            await self._session.execute(
                update(audit_entries)
                .where(c.seq.in_([e.seq for e in change.taken_over]))
                .values(pseudonymized_by=change.entry.seq)
            )
        await self._session.execute(audit_entries.insert(), [_row(change.entry)])
        await self._move_head(change.entry.seq, change.entry.hash)
        return change.entry


class AuditEvents:
    """The unit of work's commit observer: the events it is about to store that
    declare ``audit_action`` become audit entries in the same transaction, stamped with
    the request context of the commit."""

    def __init__(self, ids: IdGenerator) -> None:
        self._ids = ids

    async def __call__(
        self, session: AsyncSession, events: Sequence[DomainEvent], now: datetime
    ) -> None:
        records = [record for record in map(record_of, events) if record is not None]
        if records:
            context = current_context()
            stamped = [msgspec.structs.replace(r, context=context) for r in records]
            await SqlAuditStore(session, self._ids).append(stamped, now)
