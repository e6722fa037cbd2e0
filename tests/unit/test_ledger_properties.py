"""The credit ledger under random operations: grants, allocations, consumptions,
expiries, rollovers and reversals in any order, on two workspaces, as a ``FixedClock``
moves. After every step the ledger's invariants hold."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
)

from adapters.memory.billing_ledger import InMemoryLedgerStore
from core.billing import (
    CONSUMED,
    CreditLedger,
    CreditSource,
    InsufficientCreditsError,
    LedgerKeyReusedError,
    LedgerTransactionNotFoundError,
    ReversalRefusedError,
    TransactionKind,
    consumption_order,
)
from core.kernel import FixedClock, IdGenerator, TenantContext

T = TypeVar("T")
T0 = datetime(2030, 1, 1, tzinfo=UTC)
PERIOD = timedelta(days=10)
WORKSPACES = (TenantContext("ws_prop_a"), TenantContext("ws_prop_b"))

workspaces = st.sampled_from(WORKSPACES)
keys = st.integers(0, 15)  # few keys, so that postings repeat them
hand_sources = st.sampled_from([CreditSource.PURCHASE, CreditSource.PROMOTION, CreditSource.STAFF])


class LedgerMachine(RuleBasedStateMachine):
    postings = Bundle("postings")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clock = FixedClock(T0)
        self.store = InMemoryLedgerStore()
        self.ledger = CreditLedger(self.store, self.clock, IdGenerator())
        self.limit = 0
        self.expired_up_to: dict[str, datetime] = {}

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(work)

    def teardown(self) -> None:
        self.loop.close()

    def period_start(self, periods_back: int = 0) -> datetime:
        elapsed = (self.clock.now() - T0) // PERIOD
        return T0 + max(elapsed - periods_back, 0) * PERIOD

    @initialize(limit=st.sampled_from([0, 5, 25]))
    def choose_the_plans_overdraft(self, limit: int) -> None:
        self.limit = limit

    @rule(
        target=postings,
        tenant=workspaces,
        source=hand_sources,
        amount=st.integers(1, 50),
        priority=st.integers(0, 2),
        expires_in=st.none() | st.integers(1, 240),
        starts_in=st.sampled_from([0, 0, 0, 30]),
        key=keys,
    )
    def grant(
        self,
        tenant: TenantContext,
        source: CreditSource,
        amount: int,
        priority: int,
        expires_in: int | None,
        starts_in: int,
        key: int,
    ) -> object:
        now = self.clock.now()
        start = now + timedelta(hours=starts_in)
        try:
            grant = self.run(
                self.ledger.grant(
                    tenant,
                    source=source,
                    amount=amount,
                    key=f"grant-{key}",
                    priority=priority,
                    effective_at=start,
                    expires_at=None if expires_in is None else start + timedelta(hours=expires_in),
                    reason="goodwill" if source is CreditSource.STAFF else None,
                )
            )
        except LedgerKeyReusedError:
            return multiple()
        return (tenant, grant.transaction_id)

    @rule(
        target=postings,
        tenant=workspaces,
        amount=st.integers(0, 300),
        subscription=st.sampled_from(["sub_a", "sub_b"]),
    )
    def allocate(self, tenant: TenantContext, amount: int, subscription: str) -> object:
        start = self.period_start()
        granted = self.run(
            self.ledger.allocate(
                tenant,
                subscription_id=subscription,
                amount=amount,
                period_start=start,
                period_end=start + PERIOD,
            )
        )
        return multiple() if granted is None else (tenant, granted.transaction_id)

    @rule(target=postings, tenant=workspaces, amount=st.integers(1, 80), key=keys)
    def consume(self, tenant: TenantContext, amount: int, key: int) -> object:
        now = self.clock.now()
        grants = self.run(self.ledger.grants(tenant))
        before = self.run(self.ledger.balance(tenant))
        spendable = sum(g.remaining for g in consumption_order(grants, now))
        known = set(self.store.posted)
        try:
            consumption = self.run(
                self.ledger.consume(tenant, amount, f"use-{key}", overdraft_limit=self.limit)
            )
        except InsufficientCreditsError as error:
            self.expired_up_to[tenant.workspace_id] = now
            self.check_refusal(error, amount, spendable - before.overdraft)
            return multiple()
        except LedgerKeyReusedError:
            return multiple()
        if consumption.id not in known:
            self.expired_up_to[tenant.workspace_id] = now
            after = self.run(self.ledger.balance(tenant))
            expired_now = sum(
                g.remaining for g in grants if g.grant.has_expired(now) and g.remaining > 0
            )
            assert after.balance == before.balance - expired_now - amount
            assert consumption.net(CONSUMED) == amount
        return (tenant, consumption.id)

    def check_refusal(self, refused: InsufficientCreditsError, amount: int, net: int) -> None:
        """A refusal reports what was asked and what could be spent, and only happens
        when the overdraft cannot cover the difference."""
        assert refused.requested == amount
        assert refused.balance == net
        assert amount > net + self.limit

    @rule(hours=st.integers(1, 96))
    def time_passes(self, hours: int) -> None:
        self.clock.advance(timedelta(hours=hours))

    @rule()
    def expire(self) -> None:
        self.run(self.ledger.expire())
        for tenant in WORKSPACES:
            self.expired_up_to[tenant.workspace_id] = self.clock.now()

    @rule(
        target=postings,
        tenant=workspaces,
        cap=st.integers(0, 120),
        periods_back=st.integers(0, 2),
    )
    def rollover(self, tenant: TenantContext, cap: int, periods_back: int) -> object:
        period_end = self.period_start(periods_back)
        if period_end == T0:
            return multiple()
        rolled = self.run(
            self.ledger.rollover(tenant, period_end, cap, expires_at=period_end + PERIOD)
        )
        return multiple() if rolled is None else (tenant, rolled.id)

    @rule(target=postings, posting=postings, wrong_workspace=st.booleans())
    def reverse(self, posting: tuple[TenantContext, str], wrong_workspace: bool) -> object:
        tenant, transaction_id = posting
        original = self.store.posted[transaction_id]
        if wrong_workspace:
            other = next(w for w in WORKSPACES if w != tenant)
            try:
                self.run(self.ledger.reverse(other, transaction_id, "wrong door"))
            except LedgerTransactionNotFoundError:
                return multiple()
            raise AssertionError("a foreign transaction was reversed")
        try:
            reversal = self.run(self.ledger.reverse(tenant, transaction_id, "correction"))
        except ReversalRefusedError:
            return multiple()
        assert original.kind is not TransactionKind.REVERSAL, "a reversal was reversed"
        assert reversal.reverses == transaction_id
        return (tenant, reversal.id)

    @invariant()
    def every_transaction_sums_to_zero(self) -> None:
        for transaction in self.store.posted.values():
            assert sum(entry.amount for entry in transaction.entries) == 0, transaction

    @invariant()
    def the_balance_is_the_grants_remainders_minus_the_overdraft(self) -> None:
        for tenant in WORKSPACES:
            balance = self.run(self.ledger.balance(tenant))
            grants = self.run(self.ledger.grants(tenant))
            assert balance.available == sum(g.remaining for g in grants)
            assert balance.balance == sum(g.remaining for g in grants) - balance.overdraft

    @invariant()
    def nothing_goes_below_zero_beyond_the_overdraft(self) -> None:
        for tenant in WORKSPACES:
            balance = self.run(self.ledger.balance(tenant))
            assert 0 <= balance.overdraft <= self.limit
            assert balance.balance >= -self.limit
            assert all(g.remaining >= 0 for g in self.run(self.ledger.grants(tenant)))

    @invariant()
    def expired_grants_have_nothing_left(self) -> None:
        for tenant in WORKSPACES:
            swept = self.expired_up_to.get(tenant.workspace_id)
            if swept is None:
                continue
            for item in self.run(self.ledger.grants(tenant)):
                if item.grant.has_expired(swept):
                    assert item.remaining == 0, item

    @invariant()
    def a_transaction_is_reversed_at_most_once_and_no_reversal_ever(self) -> None:
        reversed_ids = [t.reverses for t in self.store.posted.values() if t.reverses]
        assert len(reversed_ids) == len(set(reversed_ids))
        for transaction_id in reversed_ids:
            assert self.store.posted[transaction_id].kind in (
                TransactionKind.GRANT,
                TransactionKind.CONSUMPTION,
            )

    @invariant()
    def the_ledger_verifies(self) -> None:
        for tenant in WORKSPACES:
            verification = self.run(self.ledger.verify(tenant))
            assert verification.ok, verification


LedgerMachine.TestCase.settings = settings(
    max_examples=300,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLedgerProperties = LedgerMachine.TestCase
