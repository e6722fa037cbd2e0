"""The audit log on SQLite and PostgreSQL: entries written with the transaction of
their change (or not at all), concurrent appends that never fork the chain, tampering
found by verification, and pseudonymization that keeps the chain verifiable."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import ClassVar

import pytest
from sqlalchemy import delete, func, select, update

from adapters.sql.safety.audit import SqlAuditStore
from adapters.sql.safety.audit_tables import audit_entries
from adapters.sql.uow import SqlUnitOfWork
from contracts.ports.audit_store import AuditStoreContract
from core.kernel import DomainEvent, FixedClock, IdGenerator
from core.safety import (
    ActorType,
    AuditEntry,
    AuditFilter,
    AuditLog,
    AuditRecord,
    AuditVerification,
    RequestContext,
    current_context,
    set_context,
)
from entrypoints.containers import ApplicationContainer
from entrypoints.settings import Settings
from entrypoints.testing.plugin import settings_with

ALICE = RequestContext(
    actor_type=ActorType.USER, actor_id="usr_alice", ip="203.0.113.7", request_id="req-a"
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings_with(settings, database_pool_size=10)


@pytest.fixture(autouse=True)
def _system_context() -> Iterator[None]:
    before = current_context()
    yield
    set_context(before)


@pytest.fixture
async def uow(container: ApplicationContainer) -> AsyncIterator[SqlUnitOfWork]:
    """One open unit of work, never committed."""
    async with container.unit_of_work() as opened:
        yield opened


class TestSqlAuditStore(AuditStoreContract):
    @pytest.fixture
    def audit_store(self, uow: SqlUnitOfWork) -> SqlAuditStore:
        return SqlAuditStore(uow.session, IdGenerator())


class _KeyCreated(DomainEvent, frozen=True, kw_only=True):
    name: ClassVar[str] = "test.key_created"
    audit_action: ClassVar[str | None] = "api_key.created"
    audit_target: ClassVar[tuple[str, str] | None] = ("api_key", "key_id")

    key_id: str


def _log(container: ApplicationContainer, uow: SqlUnitOfWork) -> AuditLog:
    log: AuditLog = container.safety.audit(uow=uow)
    return log


async def _entries(container: ApplicationContainer) -> list[AuditEntry]:
    async with container.unit_of_work() as uow:
        return [e async for e in _log(container, uow).export()]


async def test_an_auditable_event_is_an_entry_of_its_own_transaction(
    container: ApplicationContainer, clock: FixedClock
) -> None:
    set_context(ALICE)
    async with container.unit_of_work() as uow:
        uow.raise_event(_KeyCreated(occurred_at=clock.now(), workspace_id="ws_1", key_id="key_1"))
        await uow.commit()
    async with container.unit_of_work() as uow:
        uow.raise_event(_KeyCreated(occurred_at=clock.now(), workspace_id="ws_1", key_id="key_2"))
        await uow.rollback()

    (entry,) = await _entries(container)

    assert (entry.action, entry.target_type, entry.target_id) == (
        "api_key.created",
        "api_key",
        "key_1",
    )
    assert (entry.actor_type, entry.actor_id, entry.ip, entry.request_id) == (
        ActorType.USER,
        "usr_alice",
        "203.0.113.7",
        "req-a",
    )
    assert entry.workspace_id == "ws_1"


async def test_a_direct_record_is_written_at_commit_with_the_context_of_then(
    container: ApplicationContainer,
) -> None:
    async with container.unit_of_work() as uow:
        await _log(container, uow).record(AuditRecord(action="auth.signed_in"))
        set_context(ALICE)  # authentication finished after the record was made
        await uow.commit()
    async with container.unit_of_work() as uow:
        await _log(container, uow).record(AuditRecord(action="never.committed"))

    (entry,) = await _entries(container)

    assert (entry.action, entry.actor_id) == ("auth.signed_in", "usr_alice")


async def test_fifty_concurrent_appends_make_one_unbroken_chain(
    container: ApplicationContainer,
) -> None:
    async def append(n: int) -> None:
        async with container.unit_of_work() as uow:
            await _log(container, uow).record(
                AuditRecord(action="test.concurrent", target_type="n", target_id=str(n))
            )
            await uow.commit()

    await asyncio.gather(*(append(n) for n in range(50)))

    entries = await _entries(container)
    assert [e.seq for e in entries] == list(range(1, 51))
    assert sorted(int(e.target_id or "") for e in entries) == list(range(50))
    async with container.unit_of_work() as uow:
        outcome = await _log(container, uow).verify()
    assert outcome.intact
    assert (outcome.entries, outcome.head_seq) == (50, 50)


async def _record_many(container: ApplicationContainer, *records: AuditRecord) -> None:
    async with container.unit_of_work() as uow:
        for record in records:
            await _log(container, uow).record(record)
        await uow.commit()


async def _verify(container: ApplicationContainer) -> AuditVerification:
    async with container.unit_of_work() as uow:
        return await _log(container, uow).verify()


async def test_verification_names_an_entry_changed_in_the_database(
    container: ApplicationContainer,
) -> None:
    await _record_many(
        container, *(AuditRecord(action="test.entry", context=ALICE) for _ in range(5))
    )
    async with container.unit_of_work() as uow:
        await uow.session.execute(
            update(audit_entries).where(audit_entries.c.seq == 3).values(actor_id="usr_mallory")
        )
        await uow.session.commit()

    outcome = await _verify(container)

    assert outcome.broken is not None
    assert outcome.broken.seq == 3


async def test_verification_notices_the_last_entries_removed(
    container: ApplicationContainer,
) -> None:
    await _record_many(container, *(AuditRecord(action="test.entry") for _ in range(3)))
    async with container.unit_of_work() as uow:
        await uow.session.execute(delete(audit_entries).where(audit_entries.c.seq == 3))
        await uow.session.commit()

    outcome = await _verify(container)

    assert outcome.broken is not None
    assert outcome.broken.seq == 3
    assert "head" in outcome.broken.problem


async def test_a_rolled_back_transaction_leaves_no_gap(container: ApplicationContainer) -> None:
    await _record_many(container, AuditRecord(action="test.first"))
    async with container.unit_of_work() as uow:
        await _log(container, uow).record(AuditRecord(action="test.rolled_back"))
        await uow.rollback()
    await _record_many(container, AuditRecord(action="test.second"))

    entries = await _entries(container)

    assert [(e.seq, e.action) for e in entries] == [(1, "test.first"), (2, "test.second")]
    assert (await _verify(container)).intact


async def test_pseudonymization_erases_a_user_and_verification_stays_green(
    container: ApplicationContainer, clock: FixedClock
) -> None:
    bob = RequestContext(actor_type=ActorType.USER, actor_id="usr_bob", ip="198.51.100.2")
    await _record_many(
        container,
        AuditRecord(
            action="auth.signed_in", target_type="user", target_id="usr_alice", context=ALICE
        ),
        AuditRecord(
            action="member.role_changed",
            target_type="user",
            target_id="usr_bob",
            after={"role": "admin", "by": "usr_alice"},
            context=ALICE,
        ),
        AuditRecord(action="auth.signed_in", context=bob),
    )
    async with container.unit_of_work() as uow:
        vouching = await _log(container, uow).pseudonymize("usr_alice", "deleted_7f3a")
        await uow.commit()
    async with container.unit_of_work() as uow:
        await _log(container, uow).pseudonymize("usr_bob", "deleted_91c2")
        nothing = await _log(container, uow).pseudonymize("usr_nobody", "deleted_0000")
        await uow.commit()

    entries = await _entries(container)
    assert vouching is not None
    assert nothing is None
    assert (await _verify(container)).intact
    assert entries[1].actor_id == "deleted_7f3a"
    assert entries[1].target_id == "deleted_91c2"
    assert entries[1].after == {"role": "admin", "by": "deleted_7f3a"}
    assert entries[0].ip is None
    async with container.unit_of_work() as uow:
        count = await uow.session.scalar(
            select(func.count()).where(
                (audit_entries.c.actor_id == "usr_alice")
                | (audit_entries.c.target_id == "usr_alice")
            )
        )
    assert count == 0


async def test_pages_filter_and_go_newest_first(container: ApplicationContainer) -> None:
    await _record_many(
        container,
        *(
            AuditRecord(action=f"member.{kind}", workspace_id="ws_1")
            for kind in ("added", "role_changed", "removed")
        ),
        AuditRecord(action="member.added", workspace_id="ws_2"),
    )
    async with container.unit_of_work() as uow:
        log = _log(container, uow)
        first = await log.page(AuditFilter(workspace_id="ws_1", action="member.*"), limit=2)
        rest = await log.page(
            AuditFilter(workspace_id="ws_1", action="member.*"), cursor=first.next_cursor, limit=2
        )
        only_added = await log.page(AuditFilter(action="member.added"))

    assert [e.action for e in first.entries] == ["member.removed", "member.role_changed"]
    assert [e.action for e in rest.entries] == ["member.added"]
    assert rest.next_cursor is None
    assert [e.workspace_id for e in only_added.entries] == ["ws_2", "ws_1"]


async def test_the_store_serializes_appends_under_the_head_lock(
    container: ApplicationContainer, clock: FixedClock
) -> None:
    async with container.unit_of_work() as uow:
        store = SqlAuditStore(uow.session, IdGenerator())
        appended = await store.append([AuditRecord(action="test.direct")], clock.now())
        head = await store.head()
        await uow.commit()

    assert head == (appended[0].seq, appended[0].hash)
