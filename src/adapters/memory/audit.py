"""The audit log in memory (``AuditStore``): for tests of code that records, and the
reference the conformance suite (``contracts/ports/audit_store.py``) holds adapters to."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime

import msgspec

from core.kernel import IdGenerator
from core.safety.audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditFilter,
    AuditRecord,
    chain,
    names,
    pseudonymization,
    superseded_by,
)
from core.safety.context import RequestContext


def _matches(entry: AuditEntry, where: AuditFilter | None) -> bool:
    if where is None:
        return True
    if where.action:
        if where.action.endswith(".*"):
            if not entry.action.startswith(where.action[:-1]):
                return False
        elif entry.action != where.action:
            return False
    return (
        (not where.actor_id or entry.actor_id == where.actor_id)
        and (not where.target_type or entry.target_type == where.target_type)
        and (not where.target_id or entry.target_id == where.target_id)
        and (not where.workspace_id or entry.workspace_id == where.workspace_id)
        and (where.since is None or entry.at >= where.since)
        and (where.until is None or entry.at < where.until)
    )


class InMemoryAuditStore:
    """Entries in a list, in seq order; ``entries`` is open to tests that tamper."""

    def __init__(self, ids: IdGenerator | None = None) -> None:
        self._ids = ids or IdGenerator()
        self.entries: list[AuditEntry] = []
        self.head_row: tuple[int, str] = (0, GENESIS_HASH)

    async def append(self, records: Sequence[AuditRecord], now: datetime) -> list[AuditEntry]:
        if not records:
            return []
        seq, hash_ = self.head_row
        entries = chain(records, head_seq=seq, head_hash=hash_, ids=self._ids, now=now)
        self.entries.extend(entries)
        self.head_row = (entries[-1].seq, entries[-1].hash)
        return entries

    async def head(self) -> tuple[int, str]:
        return self.head_row

    async def page(
        self, where: AuditFilter, *, before_seq: int | None, limit: int
    ) -> list[AuditEntry]:
        found = [
            e
            for e in reversed(self.entries)
            if _matches(e, where) and (before_seq is None or e.seq < before_seq)
        ]
        return found[:limit]

    async def scan(
        self, where: AuditFilter | None = None, *, batch: int = 500
    ) -> AsyncIterator[AuditEntry]:
        for entry in list(self.entries):
            if _matches(entry, where):
                yield entry

    async def pseudonymize(
        self, user_id: str, pseudonym: str, now: datetime, context: RequestContext | None = None
    ) -> AuditEntry | None:
        named = [e for e in self.entries if names(e, user_id)]
        if not named:
            return None
        superseded = set(superseded_by(named))
        held_before = [e for e in self.entries if e.pseudonymized_by in superseded]
        seq, hash_ = self.head_row
        change = pseudonymization(
            named,
            held_before,
            user_id=user_id,
            pseudonym=pseudonym,
            head_seq=seq,
            head_hash=hash_,
            ids=self._ids,
            now=now,
            context=context,
        )
        changed = {e.seq: e for e in [*change.rewritten, *change.taken_over]}
        self.entries = [changed.get(e.seq, e) for e in self.entries] + [change.entry]
        self.head_row = (change.entry.seq, change.entry.hash)
        return change.entry

    def tamper(self, seq: int, **changes: object) -> None:
        """Change an entry behind the log's back (tests of verification)."""
        self.entries = [
            msgspec.structs.replace(e, **changes) if e.seq == seq else e for e in self.entries
        ]
