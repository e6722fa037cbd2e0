"""The credit ledger on SQL: ``LedgerStore`` on the ``billing_ledger_*``,
``billing_credit_grants`` and ``billing_credit_balances`` tables (SQLite and PostgreSQL).

Works in the transaction of the ``AsyncSession`` it is given and never commits.

Serialization: ``lock`` makes sure the workspace has a ``billing_credit_balances`` row
(``INSERT … ON CONFLICT DO NOTHING``) and takes it ``FOR UPDATE`` on PostgreSQL, so a
second unit of work posting to the same workspace waits at ``lock`` until the first one
ends, then (READ COMMITTED) reads what it committed. SQLite needs no row lock: the
application begins every writing transaction ``IMMEDIATE``, so writers queue already.

The balance row is a cache, kept up to date by ``append`` in the same transaction; every
answer the ledger acts on (``balance``, ``grants``) is summed from the entries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Select, case, cast, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.billing.ledger_tables import (
    credit_balances,
    credit_grants,
    ledger_entries,
    ledger_transactions,
)
from core.billing.ledger_model import (
    AVAILABLE,
    BREAKAGE,
    OVERDRAFT,
    CreditBalance,
    CreditGrant,
    CreditSource,
    Entry,
    GrantBalance,
    LedgerTransaction,
    TransactionKind,
)
from core.kernel import Clock, SystemClock, TenantContext

_T, _E, _G, _B = ledger_transactions.c, ledger_entries.c, credit_grants.c, credit_balances.c


def _sum_of(account: str) -> Any:
    total = func.sum(case((_E.account == account, _E.amount), else_=0))
    return func.coalesce(cast(total, BigInteger), 0)


# Per grant: what is left of it (``available``) and what expired (``breakage``).
_GRANT_SUMS = (
    select(
        _E.grant_id.label("grant_id"),
        _sum_of(AVAILABLE).label("remaining"),
        _sum_of(BREAKAGE).label("expired"),
    )
    .where(_E.grant_id.is_not(None), _E.account.in_([AVAILABLE, BREAKAGE]))
    .group_by(_E.grant_id)
)


def _insert(dialect: str, rows: dict[str, Any]) -> Any:
    if dialect == "sqlite":
        return sqlite.insert(credit_balances).values(rows)
    if dialect == "postgresql":
        return postgresql.insert(credit_balances).values(rows)
    raise NotImplementedError(f"the ledger supports SQLite and PostgreSQL, not {dialect}")


def _grants_of(workspace_id: str, *, open_only: bool = False) -> Select[Any]:
    """The workspace's grants with their sums, oldest first."""
    sums = _GRANT_SUMS.where(_E.workspace_id == workspace_id).subquery()
    query = (
        select(credit_grants, sums.c.remaining, sums.c.expired)
        .select_from(credit_grants.outerjoin(sums, sums.c.grant_id == _G.id))
        .where(_G.workspace_id == workspace_id)
        .order_by(_G.id)
    )
    return query.where(sums.c.remaining > 0) if open_only else query


def _entry_rows(transaction: LedgerTransaction) -> list[dict[str, Any]]:
    return [
        {
            "transaction_id": transaction.id,
            "position": position,
            "workspace_id": transaction.workspace_id,
            "account": entry.account,
            "grant_id": entry.grant_id,
            "amount": entry.amount,
        }
        for position, entry in enumerate(transaction.entries)
    ]


def _grant(row: Any) -> CreditGrant:
    return CreditGrant(
        id=row.id,
        workspace_id=row.workspace_id,
        transaction_id=row.transaction_id,
        source=CreditSource(row.source),
        amount=int(row.amount),
        priority=int(row.priority),
        effective_at=row.effective_at,
        expires_at=row.expires_at,
        reason=row.reason,
        allocation_key=row.allocation_key,
        created_at=row.created_at,
    )


def _grant_balance(row: Any) -> GrantBalance:
    return GrantBalance(
        grant=_grant(row), remaining=int(row.remaining or 0), expired=int(row.expired or 0)
    )


class SqlLedgerStore:
    """``clock`` stamps the cached balance's ``updated_at`` when ``lock`` creates it."""

    def __init__(self, session: AsyncSession, clock: Clock | None = None) -> None:
        self._session = session
        self._clock = clock if clock is not None else SystemClock()

    @property
    def _dialect(self) -> str:
        return self._session.get_bind().dialect.name

    async def lock(self, tenant: TenantContext) -> None:
        row = {
            "workspace_id": tenant.workspace_id,
            "available": 0,
            "overdraft": 0,
            "updated_at": self._clock.now(),
        }
        await self._session.execute(_insert(self._dialect, row).on_conflict_do_nothing())
        await self._session.execute(
            select(_B.workspace_id).where(_B.workspace_id == tenant.workspace_id).with_for_update()
        )

    async def append(
        self, transaction: LedgerTransaction, grant: CreditGrant | None = None
    ) -> None:
        await self._session.execute(
            ledger_transactions.insert().values(
                id=transaction.id,
                workspace_id=transaction.workspace_id,
                kind=transaction.kind.value,
                idempotency_key=transaction.idempotency_key,
                amount=transaction.amount,
                occurred_at=transaction.occurred_at,
                reverses=transaction.reverses,
                reason=transaction.reason,
                actor_id=transaction.actor_id,
            )
        )
        await self._session.execute(ledger_entries.insert(), _entry_rows(transaction))
        if grant is not None:
            await self._session.execute(
                credit_grants.insert().values(
                    id=grant.id,
                    workspace_id=grant.workspace_id,
                    transaction_id=grant.transaction_id,
                    source=grant.source.value,
                    amount=grant.amount,
                    priority=grant.priority,
                    effective_at=grant.effective_at,
                    expires_at=grant.expires_at,
                    reason=grant.reason,
                    allocation_key=grant.allocation_key,
                    created_at=grant.created_at,
                )
            )
        statement = _insert(
            self._dialect,
            {
                "workspace_id": transaction.workspace_id,
                "available": transaction.net(AVAILABLE),
                "overdraft": -transaction.net(OVERDRAFT),
                "updated_at": transaction.occurred_at,
            },
        )
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[_B.workspace_id],
                set_={
                    "available": _B.available + statement.excluded.available,
                    "overdraft": _B.overdraft + statement.excluded.overdraft,
                    "updated_at": statement.excluded.updated_at,
                },
            )
        )

    async def find_by_key(
        self, tenant: TenantContext, idempotency_key: str
    ) -> LedgerTransaction | None:
        found = await self._load(
            select(ledger_transactions).where(
                _T.workspace_id == tenant.workspace_id, _T.idempotency_key == idempotency_key
            )
        )
        return found[0] if found else None

    async def get(self, tenant: TenantContext, transaction_id: str) -> LedgerTransaction | None:
        found = await self._load(
            select(ledger_transactions).where(
                _T.workspace_id == tenant.workspace_id, _T.id == transaction_id
            )
        )
        return found[0] if found else None

    async def grants(
        self, tenant: TenantContext, *, open_only: bool = False
    ) -> Sequence[GrantBalance]:
        query = _grants_of(tenant.workspace_id, open_only=open_only)
        return [_grant_balance(row) for row in await self._session.execute(query)]

    async def get_grant(self, tenant: TenantContext, grant_id: str) -> GrantBalance | None:
        query = _grants_of(tenant.workspace_id).where(_G.id == grant_id)
        row = (await self._session.execute(query)).first()
        return None if row is None else _grant_balance(row)

    async def allocated(self, tenant: TenantContext, allocation_key: str) -> int:
        total = await self._session.scalar(
            select(func.coalesce(cast(func.sum(_G.amount), BigInteger), 0)).where(
                _G.workspace_id == tenant.workspace_id, _G.allocation_key == allocation_key
            )
        )
        return int(total or 0)

    async def balance(self, tenant: TenantContext) -> CreditBalance:
        row = (
            await self._session.execute(
                select(_sum_of(AVAILABLE), _sum_of(OVERDRAFT)).where(
                    _E.workspace_id == tenant.workspace_id,
                    _E.account.in_([AVAILABLE, OVERDRAFT]),
                )
            )
        ).one()
        return CreditBalance(
            workspace_id=tenant.workspace_id, available=int(row[0]), overdraft=-int(row[1])
        )

    async def cached_balance(self, tenant: TenantContext) -> CreditBalance | None:
        row = (
            await self._session.execute(
                select(_B.available, _B.overdraft).where(_B.workspace_id == tenant.workspace_id)
            )
        ).first()
        if row is None:
            return None
        return CreditBalance(
            workspace_id=tenant.workspace_id,
            available=int(row.available),
            overdraft=int(row.overdraft),
        )

    async def transactions(
        self, tenant: TenantContext, *, limit: int, before: str | None = None
    ) -> Sequence[LedgerTransaction]:
        query = select(ledger_transactions).where(_T.workspace_id == tenant.workspace_id)
        if before is not None:
            query = query.where(_T.id < before)
        return await self._load(query.order_by(_T.id.desc()).limit(limit))

    async def unbalanced_transactions(self, tenant: TenantContext) -> Sequence[str]:
        query = (
            select(_E.transaction_id)
            .where(_E.workspace_id == tenant.workspace_id)
            .group_by(_E.transaction_id)
            .having(func.sum(_E.amount) != 0)
            .order_by(_E.transaction_id)
        )
        return list((await self._session.scalars(query)).all())

    async def expired_grants(self, at: datetime, limit: int) -> Sequence[GrantBalance]:
        expired = select(_G.id).where(_G.expires_at <= at)
        sums = _GRANT_SUMS.where(_E.grant_id.in_(expired)).subquery()
        query = (
            select(credit_grants, sums.c.remaining, sums.c.expired)
            .join(sums, sums.c.grant_id == _G.id)
            .where(sums.c.remaining > 0)
            .order_by(_G.workspace_id, _G.id)
            .limit(limit)
        )
        return [_grant_balance(row) for row in await self._session.execute(query)]

    async def _load(self, query: Select[Any]) -> list[LedgerTransaction]:
        rows = (await self._session.execute(query)).all()
        if not rows:
            return []
        entries: defaultdict[str, list[Entry]] = defaultdict(list)
        found = await self._session.execute(
            select(ledger_entries)
            .where(_E.transaction_id.in_([row.id for row in rows]))
            .order_by(_E.transaction_id, _E.position)
        )
        for entry in found:
            entries[entry.transaction_id].append(
                Entry(account=entry.account, amount=int(entry.amount), grant_id=entry.grant_id)
            )
        return [
            LedgerTransaction(
                id=row.id,
                workspace_id=row.workspace_id,
                kind=TransactionKind(row.kind),
                idempotency_key=row.idempotency_key,
                amount=int(row.amount),
                occurred_at=row.occurred_at,
                entries=tuple(entries[row.id]),
                reverses=row.reverses,
                reason=row.reason,
                actor_id=row.actor_id,
            )
            for row in rows
        ]
