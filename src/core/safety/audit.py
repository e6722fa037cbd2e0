"""The audit log: an append-only, tamper-evident record of security- and money-relevant
actions (docs/systems/safety/audit.md).

Every entry carries the hash of the one before it, so changing, removing or reordering
an entry breaks the chain from that entry on; ``verify`` walks the chain and names the
first entry that does not hold.

Personal data and pseudonymization. An entry's hash covers its *public* fields (id,
seq, time, action, actor type, workspace, target type, request id) and a *digest* of
its personal fields (actor, impersonator, target id, address, user agent, before,
after, reason) salted with a random value of its own. Erasing a user rewrites their id
in the personal fields of their entries (``pseudonymize``), drops those entries' salts
(so the old digest can no longer confirm a guess about who it was) and appends an
``audit.pseudonymized`` entry that records, in the chain, how many entries it rewrote
and a digest over what they now hold. ``verify`` checks an untouched entry's personal
fields against its own digest and a rewritten one's against the pseudonymization entry
that last rewrote it; a later pseudonymization that rewrites entries of an earlier one
takes them all over (``supersedes``). The chain itself never changes.

Entries are written in the transaction of the change they record: events that declare
``audit_action`` become entries when their unit of work commits, and ``AuditLog.record``
adds one for actions that raise no event. The store serializes appends (a lock on the
head row), so concurrent transactions never fork the chain.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

import msgspec

from core.kernel import Clock
from core.safety.audit_chain import (
    ChainVerifier,
    Pseudonymization,
    chain,
    entry_hash,
    names,
    personal_digest,
    pseudonymization,
    pseudonymized_digest,
    record_of,
    rewrite,
    seal,
    superseded_by,
    verify,
)
from core.safety.audit_model import (
    ACTION_MAX,
    GENESIS_HASH,
    ID_MAX,
    IP_MAX,
    PAGE_MAX,
    PSEUDONYMIZED,
    REASON_MAX,
    USER_AGENT_MAX,
    AuditBreak,
    AuditEntry,
    AuditFilter,
    AuditPage,
    AuditRecord,
    AuditVerification,
    InvalidAuditCursorError,
    NothingToPseudonymizeError,
)
from core.safety.context import RequestContext, current_context

__all__ = [
    "ACTION_MAX",
    "GENESIS_HASH",
    "ID_MAX",
    "IP_MAX",
    "PAGE_MAX",
    "PSEUDONYMIZED",
    "REASON_MAX",
    "USER_AGENT_MAX",
    "AuditBreak",
    "AuditEntry",
    "AuditFilter",
    "AuditLog",
    "AuditPage",
    "AuditRecord",
    "AuditStore",
    "AuditVerification",
    "ChainVerifier",
    "Deferring",
    "Flush",
    "InvalidAuditCursorError",
    "NothingToPseudonymizeError",
    "Pseudonymization",
    "chain",
    "entry_hash",
    "entry_json",
    "names",
    "personal_digest",
    "pseudonymization",
    "pseudonymized_digest",
    "record_of",
    "rewrite",
    "seal",
    "superseded_by",
    "verify",
]


# --- the port and the service ------------------------------------------------------------


class AuditStore(Protocol):
    """The log's storage, in the caller's transaction. ``append`` and ``pseudonymize``
    hold the head's lock until the transaction ends, so the chain never forks."""

    async def append(self, records: Sequence[AuditRecord], now: datetime) -> list[AuditEntry]:
        """Seal ``records`` after the head, in order, and store them."""
        ...

    async def head(self) -> tuple[int, str]:
        """The last entry's (seq, hash), as the head row keeps it; (0, GENESIS) if none."""
        ...

    async def page(
        self, where: AuditFilter, *, before_seq: int | None, limit: int
    ) -> list[AuditEntry]:
        """Matching entries, newest first, below ``before_seq``."""
        ...

    def scan(
        self, where: AuditFilter | None = None, *, batch: int = 500
    ) -> AsyncIterator[AuditEntry]:
        """Matching entries in seq order, read in batches (export, verify)."""
        ...

    async def pseudonymize(
        self, user_id: str, pseudonym: str, now: datetime, context: RequestContext | None = None
    ) -> AuditEntry | None:
        """Rewrite ``user_id`` as ``pseudonym`` in every entry naming it and append the
        ``audit.pseudonymized`` entry that vouches for them; None if no entry names it."""
        ...


Flush = Callable[[], Awaitable[None]]


class Deferring(Protocol):
    """A unit of work that runs callbacks just before it commits."""

    def before_commit(self, callback: Flush) -> None: ...


class AuditLog:
    """Recording, reading, exporting and verifying the audit log.

    Bound to a unit of work that can defer (``before_commit``), ``record`` keeps the
    records and appends them when it commits, so the head's lock is the transaction's
    last and shortest; otherwise it appends at once."""

    def __init__(
        self,
        store: AuditStore,
        clock: Clock,
        uow: Deferring | None = None,
    ) -> None:
        self.store = store
        self._clock = clock
        self._uow = uow
        self._pending: list[AuditRecord] = []

    async def record(self, record: AuditRecord) -> None:
        """Record ``record`` with this transaction: timed now, and stamped with the
        request context as it is at the commit (by then the request knows who acts)
        unless it carries its own."""
        if record.at is None:
            record = msgspec.structs.replace(record, at=self._clock.now())
        if self._uow is None:
            await self.store.append([record], self._clock.now())
            return
        if not self._pending:
            self._uow.before_commit(self._flush)
        self._pending.append(record)

    async def _flush(self) -> None:
        pending, self._pending = self._pending, []
        if pending:
            context = current_context()
            stamped = [
                r if r.context else msgspec.structs.replace(r, context=context) for r in pending
            ]
            await self.store.append(stamped, self._clock.now())

    async def page(
        self, where: AuditFilter, *, cursor: str | None = None, limit: int = 50
    ) -> AuditPage:
        """Newest first; ``next_cursor`` continues below the last entry."""
        before_seq = None
        if cursor:
            if not cursor.isdigit():
                raise InvalidAuditCursorError("not a next_cursor this route answered")
            before_seq = int(cursor)
        limit = max(1, min(limit, PAGE_MAX))
        found = await self.store.page(where, before_seq=before_seq, limit=limit + 1)
        more = len(found) > limit
        found = found[:limit]
        return AuditPage(entries=found, next_cursor=str(found[-1].seq) if more else None)

    def export(self, where: AuditFilter | None = None) -> AsyncIterator[AuditEntry]:
        """Matching entries, oldest first."""
        return self.store.scan(where)

    async def verify(self) -> AuditVerification:
        """Walk the whole chain; the outcome names the first broken entry, if any."""
        head = await self.store.head()
        verifier = ChainVerifier()
        async for entry in self.store.scan():
            if not verifier.feed(entry):
                break
        return verifier.finish(head)

    async def pseudonymize(self, user_id: str, pseudonym: str) -> AuditEntry | None:
        """Erase ``user_id`` from the log, keeping it verifiable (see the module doc)."""
        await self._flush()
        return await self.store.pseudonymize(user_id, pseudonym, self._clock.now())


def entry_json(entry: AuditEntry) -> dict[str, Any]:
    """An entry as it is read and exported (without its salt)."""
    shown: dict[str, Any] = msgspec.to_builtins(entry)
    shown.pop("salt", None)
    return shown
