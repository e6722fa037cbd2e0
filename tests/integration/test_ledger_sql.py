"""The credit ledger on SQL: the ``LedgerStore`` conformance suite on SQLite and
PostgreSQL, then the ledger's use cases across committed units of work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from adapters.sql.billing.ledger import SqlLedgerStore
from adapters.sql.billing.ledger_tables import credit_balances, ledger_entries
from adapters.sql.uow import SqlUnitOfWork
from contracts.ports.billing_ledger import LedgerStoreContract
from core.billing import (
    CreditBalance,
    CreditLedger,
    CreditSource,
    InsufficientCreditsError,
    TransactionKind,
)
from core.kernel import FixedClock, IdGenerator, TenantContext
from entrypoints.containers import ApplicationContainer

WS = TenantContext("ws_ledger_sql")
DAY = timedelta(days=1)


@pytest.fixture
async def uow(container: ApplicationContainer) -> AsyncIterator[SqlUnitOfWork]:
    """One open unit of work, never committed."""
    async with container.unit_of_work() as opened:
        yield opened


class TestSqlLedgerStore(LedgerStoreContract):
    @pytest.fixture
    def ledger_store(self, uow: SqlUnitOfWork) -> SqlLedgerStore:
        return SqlLedgerStore(uow.session)


def ledger_in(uow: SqlUnitOfWork, clock: FixedClock) -> CreditLedger:
    return CreditLedger(SqlLedgerStore(uow.session, clock), clock, IdGenerator())


async def test_postings_committed_in_one_unit_of_work_are_read_in_the_next(
    container: ApplicationContainer, clock: FixedClock
) -> None:
    async with container.unit_of_work() as uow:
        ledger = ledger_in(uow, clock)
        await ledger.grant(WS, source=CreditSource.PURCHASE, amount=10, key="order-1")
        await ledger.consume(WS, 4, "use-1")
        await uow.commit()

    async with container.unit_of_work() as uow:
        ledger = ledger_in(uow, clock)
        again = await ledger.consume(WS, 4, "use-1")
        page = await ledger.transactions(WS)

        assert await ledger.balance(WS) == CreditBalance(workspace_id=WS.workspace_id, available=6)
        assert [t.kind for t in page.items] == [TransactionKind.CONSUMPTION, TransactionKind.GRANT]
        assert again == page.items[0]


async def test_a_refused_consumption_leaves_nothing_behind(
    container: ApplicationContainer, clock: FixedClock
) -> None:
    async with container.unit_of_work() as uow:
        ledger = ledger_in(uow, clock)
        await ledger.grant(WS, source=CreditSource.PURCHASE, amount=3, key="order-1")
        await uow.commit()

    async with container.unit_of_work() as uow:
        with pytest.raises(InsufficientCreditsError):
            await ledger_in(uow, clock).consume(WS, 5, "use-1")

    async with container.unit_of_work() as uow:
        count = await uow.session.scalar(select(func.count()).select_from(ledger_entries))
        assert count == 2


async def test_overdraft_expiry_rollover_and_reversal_on_sql(
    container: ApplicationContainer, clock: FixedClock
) -> None:
    start = clock.now()
    end = start + 30 * DAY
    async with container.unit_of_work() as uow:
        ledger = ledger_in(uow, clock)
        await ledger.allocate(
            WS, subscription_id="sub_1", amount=100, period_start=start, period_end=end
        )
        promo = await ledger.grant(
            WS, source=CreditSource.PROMOTION, amount=5, key="promo", expires_at=start + DAY
        )
        used = await ledger.consume(WS, 30, "use-1")
        await uow.commit()

    clock.set(end)
    async with container.unit_of_work() as uow:
        ledger = ledger_in(uow, clock)
        assert [t.amount for t in await ledger.expire()] == [75]  # 100 - 25; promo spent
        rollover = await ledger.rollover(WS, end, cap=50, expires_at=end + 30 * DAY)
        await ledger.consume(WS, 60, "use-2", overdraft_limit=20)
        refund = await ledger.reverse(WS, used.id, "double charge")
        await uow.commit()

    async with container.unit_of_work() as uow:
        ledger = ledger_in(uow, clock)
        verification = await ledger.verify(WS)
        by_id = {item.grant.id: item for item in await ledger.grants(WS)}

    assert rollover is not None
    assert rollover.amount == 50
    assert by_id[promo.id].remaining == 0  # its refund expired with it
    assert refund.reverses == used.id
    assert verification.ok, verification
    # 50 rolled over, 60 consumed (10 borrowed), the refund of 30 all went to breakage
    # (the allocation and the promotion had expired): 10 still owed.
    assert verification.derived == CreditBalance(
        workspace_id=WS.workspace_id, available=0, overdraft=10
    )


async def test_verify_notices_a_cached_balance_that_drifted(
    container: ApplicationContainer, clock: FixedClock
) -> None:
    async with container.unit_of_work() as uow:
        ledger = ledger_in(uow, clock)
        await ledger.grant(WS, source=CreditSource.PURCHASE, amount=10, key="order-1")
        assert (await ledger.verify(WS)).ok
        await uow.session.execute(
            update(credit_balances)
            .where(credit_balances.c.workspace_id == WS.workspace_id)
            .values(available=1_000)
        )

        verification = await ledger.verify(WS)

    assert not verification.cache_matches
    assert verification.cached is not None
    assert verification.cached.available == 1_000
    assert verification.derived.available == 10
