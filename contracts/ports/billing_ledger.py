"""Conformance of a ``LedgerStore``: where the credit ledger keeps its transactions,
entries and grants.

Provide a fixture ``ledger_store``: the adapter, bound to one open unit of work (for SQL,
a session that is never committed: everything is read back in it).

The store keeps what it is given and derives every balance from the entries: a grant's
``remaining`` is the sum of its entries on ``available``, its ``expired`` the sum of its
entries on ``breakage``; a workspace's ``available`` is the sum of its ``available``
entries and its ``overdraft`` minus the sum of its ``overdraft`` entries. Ids grow with
time: "newest first" is "highest id first". Times come back equal, in UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from core.billing import (
    AVAILABLE,
    BREAKAGE,
    CONSUMED,
    OVERDRAFT,
    CreditBalance,
    CreditGrant,
    CreditSource,
    Entry,
    GrantBalance,
    LedgerStore,
    LedgerTransaction,
    TransactionKind,
    issuing_account,
)
from core.kernel import IdGenerator, TenantContext

T0 = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
WS1, WS2 = TenantContext("ws_contracts_one"), TenantContext("ws_contracts_two")
ids = IdGenerator()


def a_grant(
    tenant: TenantContext = WS1,
    amount: int = 100,
    *,
    key: str | None = None,
    source: CreditSource = CreditSource.PURCHASE,
    expires_at: datetime | None = None,
    allocation_key: str | None = None,
    reason: str | None = None,
) -> tuple[LedgerTransaction, CreditGrant]:
    """A grant and the transaction that makes it."""
    transaction_id = ids.new("ltx", T0)
    grant = CreditGrant(
        id=ids.new("cgr", T0),
        workspace_id=tenant.workspace_id,
        transaction_id=transaction_id,
        source=source,
        amount=amount,
        priority=2,
        effective_at=T0,
        expires_at=expires_at,
        reason=reason,
        allocation_key=allocation_key,
        created_at=T0,
    )
    transaction = LedgerTransaction(
        id=transaction_id,
        workspace_id=tenant.workspace_id,
        kind=TransactionKind.GRANT,
        idempotency_key=key or f"grant:{grant.id}",
        amount=amount,
        occurred_at=T0,
        entries=(
            Entry(account=issuing_account(source), amount=-amount),
            Entry(account=AVAILABLE, amount=amount, grant_id=grant.id),
        ),
        reason=reason,
        actor_id="usr_contracts_staff",
    )
    return transaction, grant


def a_posting(
    tenant: TenantContext,
    kind: TransactionKind,
    *entries: Entry,
    key: str | None = None,
    amount: int = 1,
) -> LedgerTransaction:
    transaction_id = ids.new("ltx", T0)
    return LedgerTransaction(
        id=transaction_id,
        workspace_id=tenant.workspace_id,
        kind=kind,
        idempotency_key=key or f"{kind}:{transaction_id}",
        amount=amount,
        occurred_at=T0 + timedelta(minutes=1),
        entries=entries,
    )


def spend(grant_id: str, amount: int) -> tuple[Entry, Entry]:
    return (
        Entry(account=AVAILABLE, amount=-amount, grant_id=grant_id),
        Entry(account=CONSUMED, amount=amount),
    )


def remaining(grants: Sequence[GrantBalance]) -> dict[str, int]:
    return {item.grant.id: item.remaining for item in grants}


class LedgerStoreContract:
    async def test_a_transaction_comes_back_whole_by_key_and_by_id(
        self, ledger_store: LedgerStore
    ) -> None:
        transaction, grant = a_grant(key="purchase:order-1", reason="a good customer")
        await ledger_store.lock(WS1)
        await ledger_store.append(transaction, grant)

        assert await ledger_store.find_by_key(WS1, "purchase:order-1") == transaction
        assert await ledger_store.get(WS1, transaction.id) == transaction
        assert await ledger_store.find_by_key(WS1, "purchase:order-2") is None
        stored = await ledger_store.get(WS1, transaction.id)
        assert stored is not None
        assert stored.occurred_at.utcoffset() == timedelta(0)

    async def test_another_workspace_sees_nothing_of_it(self, ledger_store: LedgerStore) -> None:
        transaction, grant = a_grant(key="same-key")
        await ledger_store.append(transaction, grant)

        assert await ledger_store.get(WS2, transaction.id) is None
        assert await ledger_store.find_by_key(WS2, "same-key") is None
        assert await ledger_store.grants(WS2) == []
        assert await ledger_store.get_grant(WS2, grant.id) is None
        assert await ledger_store.transactions(WS2, limit=10) == []

    async def test_the_same_key_may_serve_two_workspaces(self, ledger_store: LedgerStore) -> None:
        first, first_grant = a_grant(WS1, key="welcome")
        second, second_grant = a_grant(WS2, key="welcome")
        await ledger_store.append(first, first_grant)
        await ledger_store.append(second, second_grant)

        assert await ledger_store.find_by_key(WS1, "welcome") == first
        assert await ledger_store.find_by_key(WS2, "welcome") == second

    async def test_a_grant_comes_back_with_its_remaining_credits(
        self, ledger_store: LedgerStore
    ) -> None:
        transaction, grant = a_grant(
            amount=70,
            source=CreditSource.STAFF,
            reason="outage credit",
            expires_at=T0 + timedelta(days=30),
            allocation_key="allocation:sub_1:2030-01-01T00:00:00+00:00",
        )
        await ledger_store.append(transaction, grant)

        assert await ledger_store.grants(WS1) == [
            GrantBalance(grant=grant, remaining=70, expired=0)
        ]
        assert await ledger_store.get_grant(WS1, grant.id) == GrantBalance(
            grant=grant, remaining=70, expired=0
        )
        assert await ledger_store.get_grant(WS1, "cgr_missing") is None

    async def test_remaining_and_expired_credits_are_summed_from_the_entries(
        self, ledger_store: LedgerStore
    ) -> None:
        first, first_grant = a_grant(amount=100)
        second, second_grant = a_grant(amount=50)
        await ledger_store.append(first, first_grant)
        await ledger_store.append(second, second_grant)
        consumption = a_posting(
            WS1,
            TransactionKind.CONSUMPTION,
            Entry(account=AVAILABLE, amount=-30, grant_id=first_grant.id),
            Entry(account=AVAILABLE, amount=-5, grant_id=second_grant.id),
            Entry(account=CONSUMED, amount=35),
        )
        expiry = a_posting(
            WS1,
            TransactionKind.EXPIRY,
            Entry(account=AVAILABLE, amount=-45, grant_id=second_grant.id),
            Entry(account=BREAKAGE, amount=45, grant_id=second_grant.id),
        )
        await ledger_store.append(consumption)
        await ledger_store.append(expiry)

        grants = list(await ledger_store.grants(WS1))
        assert [(g.grant.id, g.remaining, g.expired) for g in grants] == [
            (first_grant.id, 70, 0),
            (second_grant.id, 0, 45),
        ]
        assert [g.grant.id for g in await ledger_store.grants(WS1, open_only=True)] == [
            first_grant.id
        ]

    async def test_the_balance_is_derived_from_the_entries(self, ledger_store: LedgerStore) -> None:
        assert await ledger_store.balance(WS1) == CreditBalance(workspace_id=WS1.workspace_id)
        transaction, grant = a_grant(amount=10)
        await ledger_store.append(transaction, grant)
        await ledger_store.append(
            a_posting(
                WS1,
                TransactionKind.CONSUMPTION,
                Entry(account=AVAILABLE, amount=-10, grant_id=grant.id),
                Entry(account=OVERDRAFT, amount=-4),
                Entry(account=CONSUMED, amount=14),
            )
        )

        balance = await ledger_store.balance(WS1)
        assert balance == CreditBalance(workspace_id=WS1.workspace_id, available=0, overdraft=4)
        assert balance.balance == -4

    async def test_the_cached_balance_follows_the_postings(self, ledger_store: LedgerStore) -> None:
        assert await ledger_store.cached_balance(WS1) is None
        transaction, grant = a_grant(amount=25)
        await ledger_store.lock(WS1)
        await ledger_store.append(transaction, grant)
        await ledger_store.append(a_posting(WS1, TransactionKind.CONSUMPTION, *spend(grant.id, 5)))

        expected = CreditBalance(workspace_id=WS1.workspace_id, available=20, overdraft=0)
        assert await ledger_store.balance(WS1) == expected
        assert await ledger_store.cached_balance(WS1) == expected

    async def test_locking_twice_in_one_unit_of_work_is_harmless(
        self, ledger_store: LedgerStore
    ) -> None:
        await ledger_store.lock(WS1)
        await ledger_store.lock(WS1)
        transaction, grant = a_grant(amount=3)
        await ledger_store.append(transaction, grant)
        await ledger_store.lock(WS1)

        assert (await ledger_store.balance(WS1)).available == 3

    async def test_allocated_sums_the_grants_of_one_allocation_key(
        self, ledger_store: LedgerStore
    ) -> None:
        period = "allocation:sub_1:2030-01-01T00:00:00+00:00"
        for amount, allocation in ((100, period), (40, period), (7, "allocation:sub_1:other")):
            transaction, grant = a_grant(
                amount=amount, source=CreditSource.PLAN_ALLOCATION, allocation_key=allocation
            )
            await ledger_store.append(transaction, grant)

        assert await ledger_store.allocated(WS1, period) == 140
        assert await ledger_store.allocated(WS1, "allocation:sub_2:none") == 0
        assert await ledger_store.allocated(WS2, period) == 0

    async def test_transactions_are_listed_newest_first_in_pages(
        self, ledger_store: LedgerStore
    ) -> None:
        posted = []
        for _ in range(5):
            transaction, grant = a_grant(amount=1)
            await ledger_store.append(transaction, grant)
            posted.append(transaction)
        other, other_grant = a_grant(WS2)
        await ledger_store.append(other, other_grant)
        newest_first = [t.id for t in reversed(posted)]

        first_page = await ledger_store.transactions(WS1, limit=3)
        assert [t.id for t in first_page] == newest_first[:3]
        assert first_page[0] == posted[-1]
        rest = await ledger_store.transactions(WS1, limit=3, before=first_page[-1].id)
        assert [t.id for t in rest] == newest_first[3:]

    async def test_a_balanced_ledger_has_no_unbalanced_transactions(
        self, ledger_store: LedgerStore
    ) -> None:
        transaction, grant = a_grant()
        await ledger_store.append(transaction, grant)
        await ledger_store.append(a_posting(WS1, TransactionKind.CONSUMPTION, *spend(grant.id, 9)))

        assert list(await ledger_store.unbalanced_transactions(WS1)) == []

    async def test_expired_grants_with_credits_left_are_found_across_workspaces(
        self, ledger_store: LedgerStore
    ) -> None:
        soon, later = T0 + timedelta(days=1), T0 + timedelta(days=2)
        spent_tx, spent = a_grant(WS1, 5, expires_at=soon)
        second_tx, second = a_grant(WS2, 5, expires_at=soon)
        first_tx, first = a_grant(WS1, 5, expires_at=soon)
        postings = [
            (spent_tx, spent),
            (second_tx, second),
            (first_tx, first),
            a_grant(WS1, 5, expires_at=later),
            a_grant(WS1, 5),
        ]
        for transaction, grant in postings:
            await ledger_store.append(transaction, grant)
        await ledger_store.append(a_posting(WS1, TransactionKind.CONSUMPTION, *spend(spent.id, 5)))

        found = await ledger_store.expired_grants(soon, limit=10)
        assert [(g.grant.workspace_id, g.grant.id, g.remaining) for g in found] == [
            (WS1.workspace_id, first.id, 5),
            (WS2.workspace_id, second.id, 5),
        ]
        assert len(await ledger_store.expired_grants(soon, limit=1)) == 1
        assert await ledger_store.expired_grants(soon - timedelta(microseconds=1), limit=10) == []

    @pytest.mark.parametrize("source", list(CreditSource))
    async def test_every_source_round_trips(
        self, ledger_store: LedgerStore, source: CreditSource
    ) -> None:
        transaction, grant = a_grant(source=source, reason="because")
        await ledger_store.append(transaction, grant)

        found = await ledger_store.get_grant(WS1, grant.id)
        assert found is not None
        assert found.grant.source is source
        assert remaining(await ledger_store.grants(WS1)) == {grant.id: 100}
