"""In-memory fake of billing's ``LedgerStore``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from core.billing.ledger_model import (
    AVAILABLE,
    BREAKAGE,
    OVERDRAFT,
    CreditBalance,
    CreditGrant,
    GrantBalance,
    LedgerTransaction,
)
from core.kernel import TenantContext


class InMemoryLedgerStore:
    """Keeps transactions and grants in dictionaries; derives balances from the entries.

    Like the other fakes it ignores transactions: what was appended in a unit of work
    that is rolled back stays. ``lock`` only records the workspace (one event loop needs
    no lock between awaits that never yield). ``cache`` is the cached balance per
    workspace, which tests may corrupt to see ``verify`` notice it.
    """

    def __init__(self) -> None:
        self.posted: dict[str, LedgerTransaction] = {}
        self.cache: dict[str, CreditBalance] = {}
        self.locks: list[str] = []
        self._keys: dict[tuple[str, str], str] = {}
        self._grants: dict[str, CreditGrant] = {}

    async def lock(self, tenant: TenantContext) -> None:
        self.locks.append(tenant.workspace_id)

    async def append(
        self, transaction: LedgerTransaction, grant: CreditGrant | None = None
    ) -> None:
        key = (transaction.workspace_id, transaction.idempotency_key)
        if key in self._keys or transaction.id in self.posted:
            raise ValueError(f"transaction {transaction.idempotency_key!r} is already stored")
        if grant is not None:
            if grant.workspace_id != transaction.workspace_id or grant.id in self._grants:
                raise ValueError(f"grant {grant.id} cannot be stored with this transaction")
            self._grants[grant.id] = grant
        self.posted[transaction.id] = transaction
        self._keys[key] = transaction.id
        cached = self.cache.get(transaction.workspace_id) or CreditBalance(
            workspace_id=transaction.workspace_id
        )
        self.cache[transaction.workspace_id] = CreditBalance(
            workspace_id=transaction.workspace_id,
            available=cached.available + transaction.net(AVAILABLE),
            overdraft=cached.overdraft - transaction.net(OVERDRAFT),
        )

    async def find_by_key(
        self, tenant: TenantContext, idempotency_key: str
    ) -> LedgerTransaction | None:
        found = self._keys.get((tenant.workspace_id, idempotency_key))
        return None if found is None else self.posted[found]

    async def get(self, tenant: TenantContext, transaction_id: str) -> LedgerTransaction | None:
        found = self.posted.get(transaction_id)
        return found if found is not None and found.workspace_id == tenant.workspace_id else None

    async def grants(
        self, tenant: TenantContext, *, open_only: bool = False
    ) -> Sequence[GrantBalance]:
        sums = self._grant_sums(tenant.workspace_id)
        found = [
            GrantBalance(grant=grant, remaining=sums[grant.id][0], expired=sums[grant.id][1])
            for grant in sorted(self._grants.values(), key=lambda g: g.id)
            if grant.workspace_id == tenant.workspace_id
        ]
        return [item for item in found if item.remaining > 0] if open_only else found

    async def get_grant(self, tenant: TenantContext, grant_id: str) -> GrantBalance | None:
        return next((g for g in await self.grants(tenant) if g.grant.id == grant_id), None)

    async def allocated(self, tenant: TenantContext, allocation_key: str) -> int:
        return sum(
            grant.amount
            for grant in self._grants.values()
            if grant.workspace_id == tenant.workspace_id and grant.allocation_key == allocation_key
        )

    async def balance(self, tenant: TenantContext) -> CreditBalance:
        mine = self._of(tenant.workspace_id)
        return CreditBalance(
            workspace_id=tenant.workspace_id,
            available=sum(t.net(AVAILABLE) for t in mine),
            overdraft=-sum(t.net(OVERDRAFT) for t in mine),
        )

    async def cached_balance(self, tenant: TenantContext) -> CreditBalance | None:
        return self.cache.get(tenant.workspace_id)

    async def transactions(
        self, tenant: TenantContext, *, limit: int, before: str | None = None
    ) -> Sequence[LedgerTransaction]:
        newest_first = sorted(self._of(tenant.workspace_id), key=lambda t: t.id, reverse=True)
        return [t for t in newest_first if before is None or t.id < before][:limit]

    async def unbalanced_transactions(self, tenant: TenantContext) -> Sequence[str]:
        return [
            t.id for t in self._of(tenant.workspace_id) if sum(e.amount for e in t.entries) != 0
        ]

    async def expired_grants(self, at: datetime, limit: int) -> Sequence[GrantBalance]:
        found: list[GrantBalance] = []
        for workspace_id in sorted({g.workspace_id for g in self._grants.values()}):
            found += [
                item
                for item in await self.grants(TenantContext(workspace_id), open_only=True)
                if item.grant.has_expired(at)
            ]
        return found[:limit]

    def _of(self, workspace_id: str) -> list[LedgerTransaction]:
        return [t for t in self.posted.values() if t.workspace_id == workspace_id]

    def _grant_sums(self, workspace_id: str) -> defaultdict[str, list[int]]:
        sums: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])
        for transaction in self._of(workspace_id):
            for entry in transaction.entries:
                if entry.grant_id is None:
                    continue
                if entry.account == AVAILABLE:
                    sums[entry.grant_id][0] += entry.amount
                elif entry.account == BREAKAGE:
                    sums[entry.grant_id][1] += entry.amount
        return sums
