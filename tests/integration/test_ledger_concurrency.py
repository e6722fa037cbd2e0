"""On PostgreSQL, concurrent deductions from one workspace never overspend: each posting
locks the workspace's balance row, so they queue up and each reads what the one before
committed. (SQLite needs no test of its own: its writers are serialized already.)"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.billing.ledger import SqlLedgerStore
from adapters.sql.billing.ledger_tables import ledger_entries, ledger_transactions
from adapters.sql.database import is_sqlite
from core.billing import (
    CONSUMED,
    CreditBalance,
    CreditLedger,
    CreditSource,
    InsufficientCreditsError,
    TransactionKind,
)
from core.kernel import FixedClock, IdGenerator, TenantContext
from entrypoints.containers import ApplicationContainer
from entrypoints.settings import Settings
from entrypoints.testing.plugin import settings_with

pytestmark = pytest.mark.postgres

WS = TenantContext("ws_ledger_race")
DEDUCTIONS = 200
BALANCE = 100


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Up to 32 connections at once: plenty of contention, and room on a shared server
    # (the other deductions wait for a connection, then for the lock).
    return settings_with(settings, database_pool_size=16)


async def test_200_concurrent_deductions_from_a_balance_of_100_consume_exactly_100(
    container: ApplicationContainer, settings: Settings, clock: FixedClock
) -> None:
    if is_sqlite(settings.database_url):
        pytest.skip("SQLite serializes writers; the row lock is PostgreSQL's")
    ids = IdGenerator()

    def ledger_of(session: AsyncSession) -> CreditLedger:
        return CreditLedger(SqlLedgerStore(session, clock), clock, ids)

    async with container.unit_of_work() as uow:
        await ledger_of(uow.session).grant(
            WS, source=CreditSource.PURCHASE, amount=BALANCE, key="order-1"
        )
        await uow.commit()

    async def deduct(n: int) -> bool:
        async with container.unit_of_work() as uow:
            try:
                await ledger_of(uow.session).consume(WS, 1, f"deduction-{n}")
            except InsufficientCreditsError:
                return False
            await uow.commit()
            return True

    outcomes = await asyncio.gather(*(deduct(n) for n in range(DEDUCTIONS)))

    assert outcomes.count(True) == BALANCE
    assert outcomes.count(False) == DEDUCTIONS - BALANCE
    async with container.unit_of_work() as uow:
        ledger = ledger_of(uow.session)
        verification = await ledger.verify(WS)
        entries_total = await uow.session.scalar(select(func.sum(ledger_entries.c.amount)))
        consumed = await uow.session.scalar(
            select(func.sum(ledger_entries.c.amount)).where(ledger_entries.c.account == CONSUMED)
        )
        consumptions = await uow.session.scalar(
            select(func.count())
            .select_from(ledger_transactions)
            .where(ledger_transactions.c.kind == TransactionKind.CONSUMPTION.value)
        )
    assert verification.ok, verification
    assert verification.derived == CreditBalance(workspace_id=WS.workspace_id, available=0)
    assert entries_total == 0
    assert consumed == BALANCE
    assert consumptions == BALANCE
