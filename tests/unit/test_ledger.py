"""The credit ledger: its model's rules, every use case on the in-memory store, and the
``LedgerStore`` conformance suite run on that store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.memory.billing_ledger import InMemoryLedgerStore
from contracts.ports.billing_ledger import LedgerStoreContract
from core.billing import (
    AVAILABLE,
    BREAKAGE,
    CONSUMED,
    OVERDRAFT,
    CreditBalance,
    CreditGrant,
    CreditLedger,
    CreditSource,
    Entry,
    GrantBalance,
    InsufficientCreditsError,
    InvalidCreditRequestError,
    LedgerKeyReusedError,
    LedgerTransaction,
    LedgerTransactionNotFoundError,
    ReversalRefusedError,
    TransactionKind,
    UnbalancedTransactionError,
    allocation_key,
    consumption_order,
    prorated_allocation,
)
from core.kernel import FixedClock, IdGenerator, TenantContext

T0 = datetime(2030, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
WS = TenantContext("ws_ledger_one", actor_id="usr_ledger_staff")
OTHER = TenantContext("ws_ledger_two")


class TestInMemoryLedgerStore(LedgerStoreContract):
    @pytest.fixture
    def ledger_store(self) -> InMemoryLedgerStore:
        return InMemoryLedgerStore()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def store() -> InMemoryLedgerStore:
    return InMemoryLedgerStore()


@pytest.fixture
def ledger(store: InMemoryLedgerStore, clock: FixedClock) -> CreditLedger:
    return CreditLedger(store, clock, IdGenerator())


async def buy(
    ledger: CreditLedger,
    amount: int,
    key: str,
    *,
    tenant: TenantContext = WS,
    priority: int = 0,
    expires_at: datetime | None = None,
    effective_at: datetime | None = None,
) -> CreditGrant:
    return await ledger.grant(
        tenant,
        source=CreditSource.PURCHASE,
        amount=amount,
        key=key,
        priority=priority,
        expires_at=expires_at,
        effective_at=effective_at,
    )


async def remaining(ledger: CreditLedger, tenant: TenantContext = WS) -> dict[str, int]:
    return {item.grant.id: item.remaining for item in await ledger.grants(tenant)}


def taken(transaction: LedgerTransaction) -> dict[str, int]:
    """What a consumption took from each grant."""
    return {
        e.grant_id: -e.amount
        for e in transaction.entries
        if e.account == AVAILABLE and e.grant_id is not None
    }


# The model


def test_a_transaction_whose_entries_do_not_sum_to_zero_cannot_be_built() -> None:
    with pytest.raises(UnbalancedTransactionError):
        LedgerTransaction(
            id="ltx_1",
            workspace_id="ws_1",
            kind=TransactionKind.CONSUMPTION,
            idempotency_key="k",
            amount=5,
            occurred_at=T0,
            entries=(
                Entry(account=AVAILABLE, amount=-5, grant_id="cgr_1"),
                Entry(account=CONSUMED, amount=4),
            ),
        )


def test_a_transaction_has_at_least_one_entry() -> None:
    with pytest.raises(UnbalancedTransactionError):
        LedgerTransaction(
            id="ltx_1",
            workspace_id="ws_1",
            kind=TransactionKind.GRANT,
            idempotency_key="k",
            amount=0,
            occurred_at=T0,
            entries=(),
        )


def test_only_a_reversal_names_what_it_reverses() -> None:
    entries = (
        Entry(account=AVAILABLE, amount=5, grant_id="cgr_1"),
        Entry(account=CONSUMED, amount=-5),
    )
    with pytest.raises(ValueError, match="reversal"):
        LedgerTransaction(
            id="ltx_2",
            workspace_id="ws_1",
            kind=TransactionKind.REVERSAL,
            idempotency_key="k",
            amount=5,
            occurred_at=T0,
            entries=entries,
        )


def test_credits_on_the_available_account_belong_to_a_grant() -> None:
    with pytest.raises(ValueError, match="grant"):
        Entry(account=AVAILABLE, amount=5)


def test_an_entry_moves_at_least_one_credit() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Entry(account=CONSUMED, amount=0)


def a_grant(**changes: object) -> CreditGrant:
    fields: dict[str, object] = {
        "id": "cgr_1",
        "workspace_id": "ws_1",
        "transaction_id": "ltx_1",
        "source": CreditSource.PURCHASE,
        "amount": 10,
        "priority": 0,
        "effective_at": T0,
        "created_at": T0,
    }
    fields.update(changes)
    return CreditGrant(**fields)  # type: ignore[arg-type]


def test_a_staff_grant_needs_a_reason() -> None:
    with pytest.raises(InvalidCreditRequestError, match="reason"):
        a_grant(source=CreditSource.STAFF, reason="  ")


@pytest.mark.parametrize("amount", [0, -5])
def test_a_grant_is_of_at_least_one_credit(amount: int) -> None:
    with pytest.raises(InvalidCreditRequestError):
        a_grant(amount=amount)


def test_a_grant_expires_after_it_takes_effect() -> None:
    with pytest.raises(InvalidCreditRequestError):
        a_grant(expires_at=T0)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (T0 - DAY, 101),  # before the period: all of it
        (T0, 101),
        (T0 + timedelta(days=15), 50),  # half of a 30-day period, rounded down
        (T0 + timedelta(days=29, hours=23), 0),
        (T0 + timedelta(days=30), 0),
        (T0 + timedelta(days=40), 0),
    ],
)
def test_an_allocation_is_prorated_to_what_is_left_of_the_period(
    at: datetime, expected: int
) -> None:
    assert prorated_allocation(101, T0, T0 + timedelta(days=30), at) == expected


def test_proration_needs_a_period_that_ends_after_it_starts() -> None:
    with pytest.raises(InvalidCreditRequestError):
        prorated_allocation(10, T0, T0, T0)


def test_grants_are_spent_by_priority_then_soonest_expiry_then_age() -> None:
    def item(grant_id: str, **changes: object) -> GrantBalance:
        return GrantBalance(grant=a_grant(id=grant_id, **changes), remaining=1)

    grants = [
        item("cgr_never_old", effective_at=T0 - DAY),
        item("cgr_late", expires_at=T0 + 9 * DAY),
        item("cgr_soon_new", expires_at=T0 + 2 * DAY),
        item("cgr_soon_old", expires_at=T0 + 2 * DAY, effective_at=T0 - DAY),
        item("cgr_priority", priority=5),
        item("cgr_never_new"),
        item("cgr_future", effective_at=T0 + DAY),
        item("cgr_expired", effective_at=T0 - 2 * DAY, expires_at=T0),
        GrantBalance(grant=a_grant(id="cgr_empty", priority=9), remaining=0),
    ]

    assert [g.grant.id for g in consumption_order(grants, T0)] == [
        "cgr_priority",
        "cgr_soon_old",
        "cgr_soon_new",
        "cgr_late",
        "cgr_never_old",
        "cgr_never_new",
    ]


# Grants


async def test_a_grant_adds_credits_drawn_from_its_source_account(
    ledger: CreditLedger, store: InMemoryLedgerStore
) -> None:
    grant = await buy(ledger, 100, "order-1")

    assert await ledger.balance(WS) == CreditBalance(workspace_id=WS.workspace_id, available=100)
    (transaction,) = store.posted.values()
    assert transaction.entries == (
        Entry(account="grants:purchase", amount=-100),
        Entry(account=AVAILABLE, amount=100, grant_id=grant.id),
    )
    assert transaction.actor_id == "usr_ledger_staff"


async def test_granting_with_the_same_key_again_returns_the_first_grant(
    ledger: CreditLedger, store: InMemoryLedgerStore
) -> None:
    first = await buy(ledger, 100, "order-1")
    again = await buy(ledger, 100, "order-1")

    assert again == first
    assert len(store.posted) == 1
    assert (await ledger.balance(WS)).available == 100


async def test_a_key_used_for_another_amount_is_refused(ledger: CreditLedger) -> None:
    await buy(ledger, 100, "order-1")

    with pytest.raises(LedgerKeyReusedError):
        await buy(ledger, 90, "order-1")
    with pytest.raises(LedgerKeyReusedError):
        await ledger.consume(WS, 100, "order-1")


async def test_keys_are_unique_per_workspace_only(ledger: CreditLedger) -> None:
    await buy(ledger, 100, "welcome")
    await buy(ledger, 100, "welcome", tenant=OTHER)

    assert (await ledger.balance(OTHER)).available == 100


@pytest.mark.parametrize("source", [CreditSource.PLAN_ALLOCATION, CreditSource.ROLLOVER])
async def test_allocations_and_rollovers_are_not_granted_by_hand(
    ledger: CreditLedger, source: CreditSource
) -> None:
    with pytest.raises(InvalidCreditRequestError):
        await ledger.grant(WS, source=source, amount=10, key="k")


async def test_a_staff_grant_keeps_its_reason(ledger: CreditLedger) -> None:
    await ledger.grant(
        WS, source=CreditSource.STAFF, amount=5, key="staff-1", reason="sorry for the outage"
    )

    (transaction,) = (await ledger.transactions(WS)).items
    assert transaction.reason == "sorry for the outage"
    assert [g.grant.reason for g in await ledger.grants(WS)] == ["sorry for the outage"]


# Consumption


async def test_consumption_takes_from_the_highest_priority_grant_first(
    ledger: CreditLedger,
) -> None:
    low = await buy(ledger, 10, "low", expires_at=T0 + DAY)
    high = await buy(ledger, 10, "high", priority=1)

    consumption = await ledger.consume(WS, 4, "use-1")

    assert taken(consumption) == {high.id: 4}
    assert await remaining(ledger) == {low.id: 10, high.id: 6}


async def test_consumption_takes_the_soonest_expiring_grant_first_and_never_expiring_last(
    ledger: CreditLedger,
) -> None:
    never = await buy(ledger, 10, "never")
    later = await buy(ledger, 10, "later", expires_at=T0 + 20 * DAY)
    sooner = await buy(ledger, 10, "sooner", expires_at=T0 + 10 * DAY)

    consumption = await ledger.consume(WS, 25, "use-1")

    assert taken(consumption) == {sooner.id: 10, later.id: 10, never.id: 5}
    assert consumption.net(CONSUMED) == 25


async def test_consumption_takes_the_oldest_grant_first_when_all_else_is_equal(
    ledger: CreditLedger, clock: FixedClock
) -> None:
    old = await buy(ledger, 10, "old")
    clock.advance(DAY)
    await buy(ledger, 10, "new")

    consumption = await ledger.consume(WS, 3, "use-1")

    assert taken(consumption) == {old.id: 3}


async def test_grants_not_yet_in_effect_are_not_spent(ledger: CreditLedger) -> None:
    await buy(ledger, 10, "next-month", effective_at=T0 + DAY)

    with pytest.raises(InsufficientCreditsError):
        await ledger.consume(WS, 1, "use-1")


async def test_consuming_more_than_the_balance_fails_and_consumes_nothing(
    ledger: CreditLedger, store: InMemoryLedgerStore
) -> None:
    await buy(ledger, 10, "order-1")

    with pytest.raises(InsufficientCreditsError) as refused:
        await ledger.consume(WS, 11, "use-1")

    assert refused.value.balance == 10
    assert refused.value.requested == 11
    assert refused.value.status == 402
    assert refused.value.type == "billing/insufficient-credits"
    assert refused.value.extra == {"balance": 10, "requested": 11, "overdraft_limit": 0}
    assert (await ledger.balance(WS)).available == 10
    assert len(store.posted) == 1


async def test_consuming_with_the_same_key_again_returns_the_first_consumption(
    ledger: CreditLedger,
) -> None:
    await buy(ledger, 10, "order-1")

    first = await ledger.consume(WS, 4, "use-1")
    again = await ledger.consume(WS, 4, "use-1")

    assert again == first
    assert (await ledger.balance(WS)).available == 6


@pytest.mark.parametrize("amount", [0, -1])
async def test_a_consumption_is_of_at_least_one_credit(ledger: CreditLedger, amount: int) -> None:
    with pytest.raises(InvalidCreditRequestError):
        await ledger.consume(WS, amount, "use-1")


async def test_a_consumption_needs_a_key(ledger: CreditLedger) -> None:
    with pytest.raises(InvalidCreditRequestError):
        await ledger.consume(WS, 1, "")


async def test_every_posting_locks_the_workspace_ledger_first(
    ledger: CreditLedger, store: InMemoryLedgerStore
) -> None:
    await buy(ledger, 10, "order-1")
    await ledger.consume(WS, 1, "use-1")

    assert store.locks == [WS.workspace_id, WS.workspace_id]


# Overdraft


async def test_a_plan_with_overdraft_borrows_the_shortfall(ledger: CreditLedger) -> None:
    grant = await buy(ledger, 10, "order-1")

    consumption = await ledger.consume(WS, 15, "use-1", overdraft_limit=5)

    assert taken(consumption) == {grant.id: 10}
    assert consumption.net(OVERDRAFT) == -5
    balance = await ledger.balance(WS)
    assert (balance.available, balance.overdraft, balance.balance) == (0, 5, -5)


async def test_the_overdraft_never_goes_past_its_limit(ledger: CreditLedger) -> None:
    await ledger.consume(WS, 3, "use-1", overdraft_limit=5)

    with pytest.raises(InsufficientCreditsError) as refused:
        await ledger.consume(WS, 3, "use-2", overdraft_limit=5)

    assert refused.value.balance == -3
    assert (await ledger.balance(WS)).overdraft == 3


async def test_the_next_grant_repays_the_overdraft_first(ledger: CreditLedger) -> None:
    await ledger.consume(WS, 4, "use-1", overdraft_limit=5)

    grant = await buy(ledger, 10, "order-1")

    assert await remaining(ledger) == {grant.id: 6}
    assert await ledger.balance(WS) == CreditBalance(
        workspace_id=WS.workspace_id, available=6, overdraft=0
    )


async def test_a_grant_smaller_than_the_debt_repays_what_it_can(ledger: CreditLedger) -> None:
    await ledger.consume(WS, 5, "use-1", overdraft_limit=5)

    await buy(ledger, 3, "order-1")

    balance = await ledger.balance(WS)
    assert (balance.available, balance.overdraft) == (0, 2)


async def test_a_grant_taking_effect_later_repays_the_debt_once_it_can_be_spent(
    ledger: CreditLedger, clock: FixedClock
) -> None:
    await ledger.consume(WS, 4, "use-1", overdraft_limit=5)
    grant = await buy(ledger, 10, "order-1", effective_at=T0 + DAY)
    assert (await ledger.balance(WS)).overdraft == 4

    clock.advance(DAY)
    await ledger.consume(WS, 1, "use-2", overdraft_limit=5)

    assert await remaining(ledger) == {grant.id: 5}
    assert (await ledger.balance(WS)).overdraft == 0


# Expiry


async def test_expiry_breaks_what_is_left_of_expired_grants(
    ledger: CreditLedger, clock: FixedClock
) -> None:
    expiring = await buy(ledger, 10, "promo", expires_at=T0 + DAY)
    lasting = await buy(ledger, 10, "order-1")
    await ledger.consume(WS, 3, "use-1")
    clock.advance(DAY)

    (expiry,) = await ledger.expire()

    assert expiry.kind is TransactionKind.EXPIRY
    assert expiry.entries == (
        Entry(account=AVAILABLE, amount=-7, grant_id=expiring.id),
        Entry(account=BREAKAGE, amount=7, grant_id=expiring.id),
    )
    assert await remaining(ledger) == {expiring.id: 0, lasting.id: 10}


async def test_expiry_is_idempotent(ledger: CreditLedger, clock: FixedClock) -> None:
    await buy(ledger, 10, "promo", expires_at=T0 + DAY)
    clock.advance(2 * DAY)

    assert len(await ledger.expire()) == 1
    assert await ledger.expire() == []
    assert (await ledger.balance(WS)).available == 0


async def test_expiry_covers_every_workspace_and_spares_unexpired_grants(
    ledger: CreditLedger,
) -> None:
    await buy(ledger, 10, "promo", expires_at=T0 + DAY)
    await buy(ledger, 20, "promo", expires_at=T0 + DAY, tenant=OTHER)
    await buy(ledger, 30, "later", expires_at=T0 + 3 * DAY, tenant=OTHER)

    posted = await ledger.expire(T0 + DAY)

    assert sorted(t.amount for t in posted) == [10, 20]
    assert (await ledger.balance(OTHER)).available == 30


async def test_a_consumption_expires_what_has_expired_before_it_spends(
    ledger: CreditLedger, clock: FixedClock
) -> None:
    await buy(ledger, 10, "promo", expires_at=T0 + DAY)
    clock.advance(DAY)

    with pytest.raises(InsufficientCreditsError) as refused:
        await ledger.consume(WS, 1, "use-1")

    assert refused.value.balance == 0
    assert (await ledger.balance(WS)).available == 0


# Rollover


async def allocate_month(ledger: CreditLedger, amount: int = 100) -> CreditGrant:
    grant = await ledger.allocate(
        WS,
        subscription_id="sub_1",
        amount=amount,
        period_start=T0,
        period_end=T0 + 30 * DAY,
        at=T0,
    )
    assert grant is not None
    return grant


async def test_rollover_moves_the_rest_of_the_allocation_into_a_capped_grant(
    ledger: CreditLedger,
) -> None:
    allocation = await allocate_month(ledger)
    purchase = await buy(ledger, 10, "order-1")
    await ledger.consume(WS, 40, "use-1")
    end = T0 + 30 * DAY

    rollover = await ledger.rollover(WS, end, cap=50, expires_at=end + 30 * DAY, at=end)

    assert rollover is not None
    grants = {item.grant.id: item for item in await ledger.grants(WS)}
    (rolled,) = [g for g in grants.values() if g.grant.source is CreditSource.ROLLOVER]
    assert (rolled.remaining, rolled.grant.effective_at, rolled.grant.expires_at) == (
        50,
        end,
        end + 30 * DAY,
    )
    assert grants[allocation.id].remaining == 0
    assert rollover.net(BREAKAGE) == 10  # 60 were left, 50 roll over
    assert grants[purchase.id].remaining == 10


async def test_rollover_under_the_cap_moves_everything(ledger: CreditLedger) -> None:
    await allocate_month(ledger)
    end = T0 + 30 * DAY

    rollover = await ledger.rollover(WS, end, cap=500, at=end)

    assert rollover is not None
    assert rollover.amount == 100
    assert rollover.net(BREAKAGE) == 0


async def test_rollover_is_posted_once_per_period(ledger: CreditLedger) -> None:
    await allocate_month(ledger)
    end = T0 + 30 * DAY

    first = await ledger.rollover(WS, end, cap=50, at=end)
    again = await ledger.rollover(WS, end, cap=50, at=end)

    assert again == first
    assert (await ledger.balance(WS)).available == 50


async def test_rollover_still_works_after_expiry_broke_the_allocation(
    ledger: CreditLedger,
) -> None:
    allocation = await allocate_month(ledger)
    end = T0 + 30 * DAY
    await ledger.expire(end)

    rollover = await ledger.rollover(WS, end, cap=30, at=end)

    assert rollover is not None
    assert rollover.entries[0] == Entry(account=BREAKAGE, amount=-30, grant_id=allocation.id)
    assert (await ledger.balance(WS)).available == 30
    by_id = {item.grant.id: item for item in await ledger.grants(WS)}
    assert (by_id[allocation.id].remaining, by_id[allocation.id].expired) == (0, 70)


async def test_rollover_with_a_zero_cap_only_expires(ledger: CreditLedger) -> None:
    await allocate_month(ledger)
    end = T0 + 30 * DAY

    rollover = await ledger.rollover(WS, end, cap=0, at=end)

    assert rollover is not None
    assert rollover.net(BREAKAGE) == 100
    assert [g.grant.source for g in await ledger.grants(WS)] == [CreditSource.PLAN_ALLOCATION]


async def test_rollover_leaves_other_grants_alone_and_may_find_nothing(
    ledger: CreditLedger,
) -> None:
    end = T0 + 30 * DAY
    await buy(ledger, 10, "order-1", expires_at=end)

    assert await ledger.rollover(WS, end, cap=50, at=end) is None
    assert (await ledger.balance(WS)).available == 10


# Proration


async def test_a_period_is_allocated_once(ledger: CreditLedger) -> None:
    grant = await allocate_month(ledger)

    again = await ledger.allocate(
        WS, subscription_id="sub_1", amount=100, period_start=T0, period_end=T0 + 30 * DAY
    )

    assert again is None
    assert grant.allocation_key == allocation_key("sub_1", T0)
    assert grant.expires_at == T0 + 30 * DAY
    assert (await ledger.balance(WS)).available == 100


async def test_an_upgrade_late_in_the_period_grants_only_the_prorated_difference(
    ledger: CreditLedger,
) -> None:
    await allocate_month(ledger, 100)

    upgrade = await ledger.allocate(
        WS,
        subscription_id="sub_1",
        amount=1000,
        period_start=T0,
        period_end=T0 + 30 * DAY,
        at=T0 + 24 * DAY,
    )

    assert upgrade is not None
    assert upgrade.amount == 100  # 1000 * 6/30 = 200 due, 100 already allocated
    assert upgrade.effective_at == T0 + 24 * DAY


async def test_switching_plans_back_and_forth_cannot_farm_credits(ledger: CreditLedger) -> None:
    await allocate_month(ledger, 100)
    end = T0 + 30 * DAY
    plans = [1000, 100, 1000, 100, 1000]
    for day, amount in enumerate(plans, start=10):
        await ledger.allocate(
            WS,
            subscription_id="sub_1",
            amount=amount,
            period_start=T0,
            period_end=end,
            at=T0 + day * DAY,
        )

    # At most the best the period could give: 1000 prorated from day 10 = 666.
    assert (await ledger.balance(WS)).available == 666


async def test_an_allocation_after_the_period_grants_nothing(ledger: CreditLedger) -> None:
    assert (
        await ledger.allocate(
            WS,
            subscription_id="sub_1",
            amount=100,
            period_start=T0,
            period_end=T0 + DAY,
            at=T0 + DAY,
        )
        is None
    )


# Reversals


async def test_reversing_a_consumption_gives_the_credits_back_and_keeps_the_original(
    ledger: CreditLedger, store: InMemoryLedgerStore
) -> None:
    grant = await buy(ledger, 10, "order-1")
    consumption = await ledger.consume(WS, 4, "use-1")

    reversal = await ledger.reverse(WS, consumption.id, "charged twice")

    assert reversal.reverses == consumption.id
    assert reversal.reason == "charged twice"
    assert reversal.entries == tuple(
        Entry(account=e.account, amount=-e.amount, grant_id=e.grant_id) for e in consumption.entries
    )
    assert await remaining(ledger) == {grant.id: 10}
    assert store.posted[consumption.id] == consumption


async def test_a_reversal_cannot_be_reversed(ledger: CreditLedger) -> None:
    await buy(ledger, 10, "order-1")
    consumption = await ledger.consume(WS, 4, "use-1")
    reversal = await ledger.reverse(WS, consumption.id, "mistake")

    with pytest.raises(ReversalRefusedError):
        await ledger.reverse(WS, reversal.id, "undo the undo")


async def test_reversing_twice_returns_the_first_reversal(ledger: CreditLedger) -> None:
    await buy(ledger, 10, "order-1")
    consumption = await ledger.consume(WS, 4, "use-1")

    first = await ledger.reverse(WS, consumption.id, "mistake")
    again = await ledger.reverse(WS, consumption.id, "mistake")

    assert again == first
    assert (await ledger.balance(WS)).available == 10


async def test_reversing_an_unspent_grant_takes_its_credits_back(ledger: CreditLedger) -> None:
    grant = await buy(ledger, 10, "order-1")

    await ledger.reverse(WS, grant.transaction_id, "refunded")

    assert await remaining(ledger) == {grant.id: 0}
    with pytest.raises(InsufficientCreditsError):
        await ledger.consume(WS, 1, "use-1")


async def test_a_grant_whose_credits_were_spent_cannot_be_reversed(ledger: CreditLedger) -> None:
    grant = await buy(ledger, 10, "order-1")
    await ledger.consume(WS, 1, "use-1")

    with pytest.raises(ReversalRefusedError):
        await ledger.reverse(WS, grant.transaction_id, "refunded")


async def test_a_grant_that_repaid_an_overdraft_cannot_be_reversed(
    ledger: CreditLedger, store: InMemoryLedgerStore
) -> None:
    await ledger.consume(WS, 4, "use-1", overdraft_limit=5)
    grant = await buy(ledger, 10, "order-1")

    with pytest.raises(ReversalRefusedError):
        await ledger.reverse(WS, grant.transaction_id, "refunded")
    kinds = [t.kind for t in store.posted.values()]
    assert kinds == [TransactionKind.CONSUMPTION, TransactionKind.GRANT, TransactionKind.REPAYMENT]


async def test_a_repayment_cannot_be_reversed(
    ledger: CreditLedger, store: InMemoryLedgerStore
) -> None:
    await ledger.consume(WS, 4, "use-1", overdraft_limit=5)
    await buy(ledger, 10, "order-1")
    (repayment,) = [t for t in store.posted.values() if t.kind is TransactionKind.REPAYMENT]

    with pytest.raises(ReversalRefusedError):
        await ledger.reverse(WS, repayment.id, "give the debt back")


async def test_an_expiry_cannot_be_reversed(ledger: CreditLedger) -> None:
    await buy(ledger, 10, "promo", expires_at=T0 + DAY)
    (expiry,) = await ledger.expire(T0 + DAY)

    with pytest.raises(ReversalRefusedError):
        await ledger.reverse(WS, expiry.id, "bring them back")


async def test_credits_given_back_to_an_expired_grant_expire_at_once(
    ledger: CreditLedger, clock: FixedClock
) -> None:
    grant = await buy(ledger, 10, "promo", expires_at=T0 + DAY)
    consumption = await ledger.consume(WS, 4, "use-1")
    clock.advance(2 * DAY)
    await ledger.expire()

    reversal = await ledger.reverse(WS, consumption.id, "mistake")

    assert reversal.net(BREAKAGE) == 4
    assert await remaining(ledger) == {grant.id: 0}


async def test_an_overdraft_already_repaid_cannot_be_reversed(ledger: CreditLedger) -> None:
    consumption = await ledger.consume(WS, 4, "use-1", overdraft_limit=5)
    await buy(ledger, 10, "order-1")

    with pytest.raises(ReversalRefusedError):
        await ledger.reverse(WS, consumption.id, "mistake")


async def test_reversing_an_unrepaid_overdraft_clears_the_debt(ledger: CreditLedger) -> None:
    consumption = await ledger.consume(WS, 4, "use-1", overdraft_limit=5)

    await ledger.reverse(WS, consumption.id, "mistake")

    assert (await ledger.balance(WS)).overdraft == 0


async def test_only_the_workspaces_own_transactions_can_be_reversed(
    ledger: CreditLedger,
) -> None:
    grant = await buy(ledger, 10, "order-1", tenant=OTHER)

    with pytest.raises(LedgerTransactionNotFoundError):
        await ledger.reverse(WS, grant.transaction_id, "not mine")


async def test_a_reversal_needs_a_reason(ledger: CreditLedger) -> None:
    grant = await buy(ledger, 10, "order-1")

    with pytest.raises(InvalidCreditRequestError):
        await ledger.reverse(WS, grant.transaction_id, " ")


# Reading and verifying


async def test_transactions_are_listed_newest_first_a_page_at_a_time(
    ledger: CreditLedger, clock: FixedClock
) -> None:
    await buy(ledger, 10, "order-1")
    for n in range(4):
        clock.advance(timedelta(seconds=1))
        await ledger.consume(WS, 1, f"use-{n}")

    first = await ledger.transactions(WS, limit=3)
    rest = await ledger.transactions(WS, limit=3, cursor=first.next_cursor)

    assert [t.idempotency_key for t in first.items] == ["use-3", "use-2", "use-1"]
    assert [t.idempotency_key for t in rest.items] == ["use-0", "order-1"]
    assert rest.next_cursor is None


async def test_verify_recomputes_the_balance_and_agrees_with_the_cache(
    ledger: CreditLedger,
) -> None:
    await buy(ledger, 10, "order-1")
    await ledger.consume(WS, 12, "use-1", overdraft_limit=5)

    verification = await ledger.verify(WS)

    assert verification.ok
    assert verification.derived == CreditBalance(
        workspace_id=WS.workspace_id, available=0, overdraft=2
    )


async def test_verify_notices_a_cache_that_drifted_from_the_entries(
    ledger: CreditLedger, store: InMemoryLedgerStore
) -> None:
    await buy(ledger, 10, "order-1")
    store.cache[WS.workspace_id] = CreditBalance(workspace_id=WS.workspace_id, available=99)

    verification = await ledger.verify(WS)

    assert not verification.ok
    assert not verification.cache_matches
    assert verification.derived.available == 10
