"""The credit ledger: grants, consumption, expiry, rollover, prorated allocations and
reversals, posted as double-entry transactions (see ``ledger_model``).

Every posting locks the workspace's ledger (``LedgerStore.lock``) before it reads, so
concurrent postings to one workspace queue up instead of overspending, and every posting
has an idempotency key: posting a key again returns the first transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from core.billing.errors import (
    InsufficientCreditsError,
    InvalidCreditRequestError,
    LedgerKeyReusedError,
    LedgerTransactionNotFoundError,
    ReversalRefusedError,
)
from core.billing.ledger_model import (
    AVAILABLE,
    BREAKAGE,
    CONSUMED,
    OVERDRAFT,
    REVERSIBLE_KINDS,
    CreditBalance,
    CreditGrant,
    CreditSource,
    Entry,
    GrantBalance,
    LedgerTransaction,
    LedgerVerification,
    TransactionKind,
    TransactionPage,
    allocation_key,
    consumption_order,
    issuing_account,
    prorated_allocation,
)
from core.kernel import Clock, IdGenerator, TenantContext

KEY_MAX = 255
PAGE_MAX = 100


class LedgerStore(Protocol):
    """Where the ledger keeps transactions, their entries and grants: inside the caller's
    unit of work, so a posting is stored exactly when the work that caused it commits.
    Balances and grants' remaining credits are derived from the entries."""

    async def lock(self, tenant: TenantContext) -> None:
        """Hold the workspace's ledger until the unit of work ends: another unit of work
        locking it waits, then reads what this one committed. (SQL: the workspace's
        ``billing_credit_balances`` row, ``SELECT … FOR UPDATE``.)"""
        ...

    async def append(
        self, transaction: LedgerTransaction, grant: CreditGrant | None = None
    ) -> None:
        """Store the transaction, its entries and the grant it creates, all at once. The
        caller has checked, under the lock, that the idempotency key is new."""
        ...

    async def find_by_key(
        self, tenant: TenantContext, idempotency_key: str
    ) -> LedgerTransaction | None: ...

    async def get(self, tenant: TenantContext, transaction_id: str) -> LedgerTransaction | None:
        """The workspace's transaction with this id; ``None`` for another workspace's."""
        ...

    async def grants(
        self, tenant: TenantContext, *, open_only: bool = False
    ) -> Sequence[GrantBalance]:
        """The workspace's grants with their remaining and expired credits, oldest first;
        with ``open_only``, those with credits remaining."""
        ...

    async def get_grant(self, tenant: TenantContext, grant_id: str) -> GrantBalance | None: ...

    async def allocated(self, tenant: TenantContext, allocation_key: str) -> int:
        """The credits granted under ``allocation_key`` (a subscription period)."""
        ...

    async def balance(self, tenant: TenantContext) -> CreditBalance:
        """The balance recomputed from the entries."""
        ...

    async def cached_balance(self, tenant: TenantContext) -> CreditBalance | None:
        """The balance as cached beside the entries (``None`` before the first posting);
        only ``verify`` reads it."""
        ...

    async def transactions(
        self, tenant: TenantContext, *, limit: int, before: str | None = None
    ) -> Sequence[LedgerTransaction]:
        """Newest first; with ``before``, only transactions older than that id."""
        ...

    async def unbalanced_transactions(self, tenant: TenantContext) -> Sequence[str]:
        """Ids of stored transactions whose entries do not sum to zero (should be none)."""
        ...

    async def expired_grants(self, at: datetime, limit: int) -> Sequence[GrantBalance]:
        """Grants of every workspace that expired by ``at`` with credits remaining,
        ordered by workspace. For the expiry job, which acts for each workspace."""
        ...


class CreditLedger:
    """The ledger's use cases. ``at`` defaults to the clock's now; tests pass it."""

    def __init__(self, store: LedgerStore, clock: Clock, ids: IdGenerator) -> None:
        self._store = store
        self._clock = clock
        self._ids = ids

    # Grants

    async def grant(
        self,
        tenant: TenantContext,
        *,
        source: CreditSource,
        amount: int,
        key: str,
        priority: int = 0,
        effective_at: datetime | None = None,
        expires_at: datetime | None = None,
        reason: str | None = None,
        at: datetime | None = None,
    ) -> CreditGrant:
        """Give credits (a purchase, a promotion, a staff grant with its reason). Plan
        allocations go through ``allocate`` and rollovers through ``rollover``, so that
        neither escapes its rules. Credits the workspace owes are repaid from it first."""
        if source in (CreditSource.PLAN_ALLOCATION, CreditSource.ROLLOVER):
            raise InvalidCreditRequestError(f"{source} credits are granted by the billing cycle")
        return await self._grant(
            tenant,
            source=source,
            amount=amount,
            key=key,
            priority=priority,
            effective_at=effective_at,
            expires_at=expires_at,
            reason=reason,
            at=self._at(at),
        )

    async def allocate(
        self,
        tenant: TenantContext,
        *,
        subscription_id: str,
        amount: int,
        period_start: datetime,
        period_end: datetime,
        priority: int = 0,
        at: datetime | None = None,
    ) -> CreditGrant | None:
        """Allocate a plan's ``amount`` for one subscription period, expiring at its end.

        Prorated: at ``at`` the period is worth ``prorated_allocation(amount, …)``, and
        only what that exceeds the period's earlier allocations is granted (an upgrade
        late in a period grants the difference; running it again, or a downgrade, grants
        nothing). Returns the new grant, or ``None`` when nothing more is due."""
        at = self._at(at)
        due = prorated_allocation(amount, period_start, period_end, at)
        base = allocation_key(subscription_id, period_start)
        await self._store.lock(tenant)
        if await self._store.find_by_key(tenant, base) is None:
            key, more = base, due
        else:
            key, more = f"{base}:{due}", due - await self._store.allocated(tenant, base)
        if more <= 0:
            return None
        return await self._grant(
            tenant,
            source=CreditSource.PLAN_ALLOCATION,
            amount=more,
            key=key,
            priority=priority,
            effective_at=max(at, period_start),
            expires_at=period_end,
            allocation_key=base,
            at=at,
        )

    async def _grant(
        self,
        tenant: TenantContext,
        *,
        source: CreditSource,
        amount: int,
        key: str,
        priority: int,
        effective_at: datetime | None,
        expires_at: datetime | None,
        at: datetime,
        reason: str | None = None,
        allocation_key: str | None = None,
    ) -> CreditGrant:
        _check_key(key)
        transaction_id = self._new_id("ltx")
        grant = CreditGrant(
            id=self._new_id("cgr"),
            workspace_id=tenant.workspace_id,
            transaction_id=transaction_id,
            source=source,
            amount=amount,
            priority=priority,
            effective_at=effective_at or at,
            expires_at=expires_at,
            reason=reason,
            allocation_key=allocation_key,
            created_at=at,
        )
        await self._store.lock(tenant)
        existing = await self._existing(tenant, key, TransactionKind.GRANT, amount)
        if existing is not None:
            return await self._grant_of(tenant, existing)
        entries = [
            Entry(account=issuing_account(source), amount=-amount),
            Entry(account=AVAILABLE, amount=amount, grant_id=grant.id),
        ]
        await self._post(
            tenant,
            TransactionKind.GRANT,
            key,
            amount=amount,
            at=at,
            entries=entries,
            grant=grant,
            reason=reason,
            transaction_id=transaction_id,
        )
        await self._repay_from(tenant, grant, at)
        return grant

    # Consumption

    async def consume(
        self,
        tenant: TenantContext,
        amount: int,
        key: str,
        at: datetime | None = None,
        *,
        overdraft_limit: int = 0,
    ) -> LedgerTransaction:
        """Spend ``amount`` credits, all or nothing, from the active grants in
        ``consumption_order``. Beyond them, the plan's ``overdraft_limit`` may be
        borrowed (the next grant repays it); past that, ``InsufficientCreditsError``."""
        at = self._at(at)
        _check_key(key)
        if amount <= 0:
            raise InvalidCreditRequestError(f"consume at least 1 credit, not {amount}")
        if overdraft_limit < 0:
            raise InvalidCreditRequestError("an overdraft limit is zero or more")
        await self._store.lock(tenant)
        existing = await self._existing(tenant, key, TransactionKind.CONSUMPTION, amount)
        if existing is not None:
            return existing
        await self._expire_workspace(tenant, at)
        order = consumption_order(await self._store.grants(tenant, open_only=True), at)
        owed = (await self._store.balance(tenant)).overdraft
        left = {item.grant.id: item.remaining for item in order}
        repayments: list[tuple[str, int]] = []
        for item in order:  # what is owed is repaid before anything is spent
            repay = min(owed, left[item.grant.id])
            if repay:
                repayments.append((item.grant.id, repay))
                left[item.grant.id] -= repay
                owed -= repay
        spendable = sum(left.values())
        shortfall = max(0, amount - spendable)
        if shortfall and owed + shortfall > overdraft_limit:
            raise InsufficientCreditsError(
                balance=spendable - owed, requested=amount, overdraft_limit=overdraft_limit
            )
        if repayments:
            await self._post_repayment(tenant, repayments, at)
        entries: list[Entry] = []
        need = amount - shortfall
        for item in order:
            take = min(need, left[item.grant.id])
            if take:
                entries.append(Entry(account=AVAILABLE, amount=-take, grant_id=item.grant.id))
                need -= take
        if shortfall:
            entries.append(Entry(account=OVERDRAFT, amount=-shortfall))
        entries.append(Entry(account=CONSUMED, amount=amount))
        return await self._post(
            tenant, TransactionKind.CONSUMPTION, key, amount=amount, at=at, entries=entries
        )

    # Expiry and rollover

    async def expire(
        self, at: datetime | None = None, *, batch: int = 100
    ) -> list[LedgerTransaction]:
        """Post breakage for what remains of every workspace's grants that expired by
        ``at``. Idempotent: an expired grant has nothing left to expire."""
        at = self._at(at)
        posted: list[LedgerTransaction] = []
        seen: set[str] = set()
        while True:
            due = [g for g in await self._store.expired_grants(at, batch) if g.grant.id not in seen]
            if not due:
                return posted
            for item in due:
                seen.add(item.grant.id)
                tenant = TenantContext(item.grant.workspace_id)
                await self._store.lock(tenant)
                fresh = await self._store.get_grant(tenant, item.grant.id)
                if fresh is not None and fresh.remaining > 0:
                    posted.append(await self._post_expiry(tenant, fresh, at))

    async def expire_workspace(
        self, tenant: TenantContext, at: datetime | None = None
    ) -> list[LedgerTransaction]:
        """``expire`` for one workspace (``consume`` does it first, by itself)."""
        at = self._at(at)
        await self._store.lock(tenant)
        return await self._expire_workspace(tenant, at)

    async def _expire_workspace(
        self, tenant: TenantContext, at: datetime
    ) -> list[LedgerTransaction]:
        return [
            await self._post_expiry(tenant, item, at)
            for item in await self._store.grants(tenant, open_only=True)
            if item.grant.has_expired(at)
        ]

    async def _post_expiry(
        self, tenant: TenantContext, item: GrantBalance, at: datetime
    ) -> LedgerTransaction:
        grant_id, remaining = item.grant.id, item.remaining
        transaction_id = self._new_id("ltx")
        key = f"expiry:{grant_id}"
        if await self._store.find_by_key(tenant, key) is not None:
            # Credits came back to the grant after it expired once (a refund posted with
            # an earlier ``at``): expire them too, under a key of their own.
            key = f"expiry:{grant_id}:{transaction_id}"
        entries = [
            Entry(account=AVAILABLE, amount=-remaining, grant_id=grant_id),
            Entry(account=BREAKAGE, amount=remaining, grant_id=grant_id),
        ]
        return await self._post(
            tenant,
            TransactionKind.EXPIRY,
            key,
            amount=remaining,
            at=at,
            entries=entries,
            transaction_id=transaction_id,
        )

    async def rollover(
        self,
        tenant: TenantContext,
        period_end: datetime,
        cap: int,
        *,
        expires_at: datetime | None = None,
        priority: int = 0,
        at: datetime | None = None,
    ) -> LedgerTransaction | None:
        """At a period's end, move what is left of the plan allocations expiring then into
        one rollover grant of at most ``cap`` credits (effective at ``period_end``, until
        ``expires_at``); the rest is breakage. Works before or after ``expire`` ran: credits
        already broken by expiry are taken back from breakage. Returns ``None`` when
        nothing was left; posting for a period twice returns the first transaction."""
        at = self._at(at)
        if cap < 0:
            raise InvalidCreditRequestError("a rollover cap is zero or more")
        key = f"rollover:{period_end.isoformat()}"
        await self._store.lock(tenant)
        existing = await self._store.find_by_key(tenant, key)
        if existing is not None:
            return existing
        ending = [
            item
            for item in await self._store.grants(tenant)
            if item.grant.source is CreditSource.PLAN_ALLOCATION
            and item.grant.expires_at == period_end
        ]
        total = sum(item.remaining + item.expired for item in ending)
        rolled = min(total, cap)
        entries: list[Entry] = []
        to_roll = rolled
        for item in ending:  # what remains leaves the grant: rolled over, or broken
            if item.remaining > 0:
                moved = min(item.remaining, to_roll)
                to_roll -= moved
                grant_id = item.grant.id
                entries.append(Entry(account=AVAILABLE, amount=-item.remaining, grant_id=grant_id))
                if item.remaining > moved:
                    broken = item.remaining - moved
                    entries.append(Entry(account=BREAKAGE, amount=broken, grant_id=grant_id))
        for item in ending:  # then what expiry already broke, as far as the cap needs
            taken = min(item.expired, to_roll)
            if taken > 0:
                to_roll -= taken
                entries.append(Entry(account=BREAKAGE, amount=-taken, grant_id=item.grant.id))
        grant: CreditGrant | None = None
        transaction_id = self._new_id("ltx")
        if rolled:
            grant = CreditGrant(
                id=self._new_id("cgr"),
                workspace_id=tenant.workspace_id,
                transaction_id=transaction_id,
                source=CreditSource.ROLLOVER,
                amount=rolled,
                priority=priority,
                effective_at=period_end,
                expires_at=expires_at,
                created_at=at,
            )
            entries.append(Entry(account=AVAILABLE, amount=rolled, grant_id=grant.id))
        if not entries:
            return None
        posted = await self._post(
            tenant,
            TransactionKind.ROLLOVER,
            key,
            amount=rolled,
            at=at,
            entries=entries,
            grant=grant,
            transaction_id=transaction_id,
        )
        if grant is not None:
            await self._repay_from(tenant, grant, at)
        return posted

    # Corrections

    async def reverse(
        self,
        tenant: TenantContext,
        transaction_id: str,
        reason: str,
        at: datetime | None = None,
    ) -> LedgerTransaction:
        """Undo a grant or a consumption with a transaction of opposite entries (the
        original stays). Refunded credits of a grant that has expired by ``at`` expire in
        the same transaction. Reversing twice returns the first reversal. Refused
        (``ReversalRefusedError``) for a reversal, an expiry or a rollover, a grant whose
        credits were used or expired, and an overdraft whose debt was already repaid."""
        at = self._at(at)
        if not reason.strip():
            raise InvalidCreditRequestError("a reversal needs a reason")
        await self._store.lock(tenant)
        original = await self._store.get(tenant, transaction_id)
        if original is None:
            raise LedgerTransactionNotFoundError()
        key = f"reversal:{original.id}"
        existing = await self._store.find_by_key(tenant, key)
        if existing is not None:
            return existing
        if original.kind is TransactionKind.REVERSAL:
            raise ReversalRefusedError("a reversal cannot be reversed; post the original again")
        if original.kind not in REVERSIBLE_KINDS:
            raise ReversalRefusedError(
                f"{original.kind} transactions follow from time and policy; none is reversed"
            )
        entries = [
            Entry(account=e.account, amount=-e.amount, grant_id=e.grant_id)
            for e in original.entries
        ]
        owed = (await self._store.balance(tenant)).overdraft
        if owed + original.net(OVERDRAFT) < 0:
            raise ReversalRefusedError("the overdraft it created was already repaid")
        grants = {item.grant.id: item for item in await self._store.grants(tenant)}
        touched = {e.grant_id for e in original.entries if e.account == AVAILABLE}
        for grant_id in sorted(g for g in touched if g is not None):
            item = grants[grant_id]
            change = -original.net(AVAILABLE, grant_id)
            if item.remaining + change < 0:
                raise ReversalRefusedError(
                    f"credits of grant {grant_id} were already used (spent, expired, "
                    "rolled over or repaying an overdraft)"
                )
            if change > 0 and item.grant.has_expired(at):
                entries += [
                    Entry(account=AVAILABLE, amount=-change, grant_id=grant_id),
                    Entry(account=BREAKAGE, amount=change, grant_id=grant_id),
                ]
        return await self._post(
            tenant,
            TransactionKind.REVERSAL,
            key,
            amount=original.amount,
            at=at,
            entries=entries,
            reverses=original.id,
            reason=reason,
        )

    # Reading

    async def balance(self, tenant: TenantContext) -> CreditBalance:
        return await self._store.balance(tenant)

    async def grants(self, tenant: TenantContext) -> Sequence[GrantBalance]:
        return await self._store.grants(tenant)

    async def transactions(
        self, tenant: TenantContext, *, limit: int = 50, cursor: str | None = None
    ) -> TransactionPage:
        """Newest first, ``limit`` (1-100) at a time."""
        limit = max(1, min(limit, PAGE_MAX))
        items = list(await self._store.transactions(tenant, limit=limit + 1, before=cursor))
        more = len(items) > limit
        items = items[:limit]
        return TransactionPage(items=tuple(items), next_cursor=items[-1].id if more else None)

    async def posted(self, tenant: TenantContext, key: str) -> LedgerTransaction | None:
        """The transaction posted under idempotency ``key``, if any."""
        return await self._store.find_by_key(tenant, key)

    async def verify(self, tenant: TenantContext) -> LedgerVerification:
        """Recompute the workspace's balance from its entries and compare it with the
        cache; list transactions that do not sum to zero and grants spent below zero."""
        return LedgerVerification(
            derived=await self._store.balance(tenant),
            cached=await self._store.cached_balance(tenant),
            unbalanced_transactions=tuple(await self._store.unbalanced_transactions(tenant)),
            overdrawn_grants=tuple(
                item.grant.id for item in await self._store.grants(tenant) if item.remaining < 0
            ),
        )

    # Helpers

    async def _repay_from(self, tenant: TenantContext, grant: CreditGrant, at: datetime) -> None:
        """A new grant that can already be spent repays what the workspace owes first."""
        owed = (await self._store.balance(tenant)).overdraft
        if owed > 0 and grant.is_active(at):
            await self._post_repayment(tenant, [(grant.id, min(owed, grant.amount))], at)

    async def _post_repayment(
        self, tenant: TenantContext, parts: list[tuple[str, int]], at: datetime
    ) -> LedgerTransaction:
        """Credits of grants moved to the overdraft account, repaying what is owed. A
        transaction of its own, so that reversing the grant or consumption that caused it
        never brings a debt back; its key is its id (the lock, not the key, keeps a debt
        from being repaid twice)."""
        transaction_id = self._new_id("ltx")
        entries = [Entry(account=AVAILABLE, amount=-part, grant_id=gid) for gid, part in parts]
        repaid = sum(part for _, part in parts)
        entries.append(Entry(account=OVERDRAFT, amount=repaid))
        return await self._post(
            tenant,
            TransactionKind.REPAYMENT,
            f"repayment:{transaction_id}",
            amount=repaid,
            at=at,
            entries=entries,
            transaction_id=transaction_id,
        )

    def _at(self, at: datetime | None) -> datetime:
        if at is None:
            return self._clock.now()
        if at.tzinfo is None:
            raise ValueError("ledger times are timezone-aware")
        return at

    def _new_id(self, prefix: str) -> str:
        # Ids follow posting order (the clock), whatever ``at`` a posting names.
        return self._ids.new(prefix, self._clock.now())

    async def _existing(
        self, tenant: TenantContext, key: str, kind: TransactionKind, amount: int
    ) -> LedgerTransaction | None:
        existing = await self._store.find_by_key(tenant, key)
        if existing is not None and (existing.kind != kind or existing.amount != amount):
            raise LedgerKeyReusedError(
                f"{key!r} was used for a {existing.kind} of {existing.amount} credits"
            )
        return existing

    async def _grant_of(self, tenant: TenantContext, transaction: LedgerTransaction) -> CreditGrant:
        grant_id = transaction.granted_id
        found = None if grant_id is None else await self._store.get_grant(tenant, grant_id)
        if found is None:
            raise LedgerKeyReusedError(f"{transaction.idempotency_key!r} created no grant")
        return found.grant

    async def _post(
        self,
        tenant: TenantContext,
        kind: TransactionKind,
        key: str,
        *,
        amount: int,
        at: datetime,
        entries: list[Entry],
        grant: CreditGrant | None = None,
        reverses: str | None = None,
        reason: str | None = None,
        transaction_id: str | None = None,
    ) -> LedgerTransaction:
        transaction = LedgerTransaction(
            id=transaction_id or self._new_id("ltx"),
            workspace_id=tenant.workspace_id,
            kind=kind,
            idempotency_key=key,
            amount=amount,
            occurred_at=at,
            entries=tuple(entries),
            reverses=reverses,
            reason=reason,
            actor_id=tenant.actor_id,
        )
        await self._store.append(transaction, grant)
        return transaction


def _check_key(key: str) -> None:
    if not key or len(key) > KEY_MAX:
        raise InvalidCreditRequestError(f"an idempotency key has 1 to {KEY_MAX} characters")
