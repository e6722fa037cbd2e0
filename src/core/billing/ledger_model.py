"""The credit ledger's values: accounts, entries, transactions, grants and balances.

Every workspace has its own accounts, named by strings:

- ``available``: the credits the workspace holds. Each entry on it names the grant the
  credits belong to, so a grant's remaining credits are the sum of its entries here.
- ``overdraft``: what the workspace borrowed beyond its credits, when its plan allows
  it. Negative while credits are owed.
- ``grants:<source>``: where granted credits come from (``grants:purchase``, …); negative.
- ``consumed`` and ``breakage``: where spent and expired credits go; positive.

A transaction is a set of entries that sums to zero, checked when it is built. Amounts are
whole credits (integers). Balances are derived from the entries.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime, timedelta

import msgspec

from core.billing.errors import InvalidCreditRequestError

AVAILABLE = "available"
OVERDRAFT = "overdraft"
CONSUMED = "consumed"
BREAKAGE = "breakage"


class CreditSource(enum.StrEnum):
    """Where a grant's credits come from."""

    PLAN_ALLOCATION = "plan_allocation"
    PURCHASE = "purchase"
    PROMOTION = "promotion"
    STAFF = "staff"  # needs a reason
    ROLLOVER = "rollover"


def issuing_account(source: CreditSource) -> str:
    """The system account a grant of ``source`` draws its credits from."""
    return f"grants:{source.value}"


class TransactionKind(enum.StrEnum):
    GRANT = "grant"
    CONSUMPTION = "consumption"
    EXPIRY = "expiry"
    ROLLOVER = "rollover"
    REVERSAL = "reversal"
    REPAYMENT = "repayment"  # credits of a grant paying back an overdraft


REVERSIBLE_KINDS = frozenset({TransactionKind.GRANT, TransactionKind.CONSUMPTION})


class UnbalancedTransactionError(ValueError):
    """Entries that do not sum to zero: a programming error, never stored."""


class Entry(msgspec.Struct, frozen=True, kw_only=True):
    """One side of a transaction: ``amount`` credits into ``account`` (negative: out of
    it). Entries on ``available`` name their grant; other entries may, to say which
    grant they concern (the breakage of an expired grant)."""

    account: str
    amount: int
    grant_id: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise TypeError("an entry's amount is a whole number of credits")
        if self.amount == 0:
            raise ValueError("an entry moves at least one credit")
        if self.account == AVAILABLE and self.grant_id is None:
            raise ValueError("credits on the available account belong to a grant")


class LedgerTransaction(msgspec.Struct, frozen=True, kw_only=True):
    """Entries posted together, once (``idempotency_key`` is unique per workspace).

    ``amount`` is the headline figure (credits granted, requested, expired, rolled over or
    reversed); ``reverses`` names the transaction a reversal undoes.
    """

    id: str
    workspace_id: str
    kind: TransactionKind
    idempotency_key: str
    amount: int
    occurred_at: datetime
    entries: tuple[Entry, ...]
    reverses: str | None = None
    reason: str | None = None
    actor_id: str | None = None

    def __post_init__(self) -> None:
        if not self.entries:
            raise UnbalancedTransactionError("a transaction has at least one entry")
        total = sum(entry.amount for entry in self.entries)
        if total != 0:
            raise UnbalancedTransactionError(
                f"the entries of {self.idempotency_key!r} sum to {total}, not zero"
            )
        if (self.kind is TransactionKind.REVERSAL) != (self.reverses is not None):
            raise ValueError("a reversal, and only a reversal, names what it reverses")

    def net(self, account: str, grant_id: str | None = None) -> int:
        """What this transaction moved into ``account`` (for one grant, if given)."""
        return sum(
            entry.amount
            for entry in self.entries
            if entry.account == account and (grant_id is None or entry.grant_id == grant_id)
        )

    @property
    def granted_id(self) -> str | None:
        """The grant a grant or rollover transaction created (its first credit on
        ``available``)."""
        if self.kind not in (TransactionKind.GRANT, TransactionKind.ROLLOVER):
            return None
        return next(
            (e.grant_id for e in self.entries if e.account == AVAILABLE and e.amount > 0), None
        )


class CreditGrant(msgspec.Struct, frozen=True, kw_only=True):
    """Credits given to a workspace: spendable from ``effective_at`` until ``expires_at``
    (never, when ``None``). Higher ``priority`` is spent first. ``allocation_key``
    groups a plan's allocations for one subscription period."""

    id: str
    workspace_id: str
    transaction_id: str
    source: CreditSource
    amount: int
    priority: int
    effective_at: datetime
    created_at: datetime
    expires_at: datetime | None = None
    reason: str | None = None
    allocation_key: str | None = None

    def __post_init__(self) -> None:
        if self.amount <= 0:
            raise InvalidCreditRequestError(f"a grant is of at least 1 credit, not {self.amount}")
        if self.source is CreditSource.STAFF and not (self.reason and self.reason.strip()):
            raise InvalidCreditRequestError("a staff grant needs a reason")
        if self.expires_at is not None and self.expires_at <= self.effective_at:
            raise InvalidCreditRequestError("a grant expires after it takes effect")

    def is_active(self, at: datetime) -> bool:
        """Whether its credits can be spent at ``at``."""
        return self.effective_at <= at and not self.has_expired(at)

    def has_expired(self, at: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= at


class GrantBalance(msgspec.Struct, frozen=True, kw_only=True):
    """A grant with what its entries say is left of it, and how much of it expired."""

    grant: CreditGrant
    remaining: int
    expired: int = 0


class CreditBalance(msgspec.Struct, frozen=True, kw_only=True):
    """A workspace's credits: ``available`` on its grants, ``overdraft`` owed (>= 0)."""

    workspace_id: str
    available: int = 0
    overdraft: int = 0

    @property
    def balance(self) -> int:
        """Credits net of what is owed: negative only in overdraft."""
        return self.available - self.overdraft


class TransactionPage(msgspec.Struct, frozen=True, kw_only=True):
    """Transactions newest first; pass ``next_cursor`` back for the next page."""

    items: tuple[LedgerTransaction, ...]
    next_cursor: str | None = None


class LedgerVerification(msgspec.Struct, frozen=True, kw_only=True):
    """What ``CreditLedger.verify`` found: the balance recomputed from the entries, the
    cached one, and anything that breaks the ledger's rules."""

    derived: CreditBalance
    cached: CreditBalance | None
    unbalanced_transactions: tuple[str, ...] = ()
    overdrawn_grants: tuple[str, ...] = ()

    @property
    def cache_matches(self) -> bool:
        if self.cached is None:
            return self.derived.available == 0 and self.derived.overdraft == 0
        return self.cached == self.derived

    @property
    def ok(self) -> bool:
        return self.cache_matches and not self.unbalanced_transactions and not self.overdrawn_grants


def consumption_order(grants: Iterable[GrantBalance], at: datetime) -> list[GrantBalance]:
    """The grants that can be spent at ``at``, in the order they are spent: highest
    priority first, then soonest expiry (grants that never expire last), then oldest
    (earliest ``effective_at``, then creation order)."""

    def key(item: GrantBalance) -> tuple[int, bool, datetime, datetime, str]:
        grant = item.grant
        return (
            -grant.priority,
            grant.expires_at is None,
            grant.expires_at or grant.effective_at,  # compared only when both expire
            grant.effective_at,
            grant.id,
        )

    return sorted(
        (item for item in grants if item.remaining > 0 and item.grant.is_active(at)), key=key
    )


def prorated_allocation(
    amount: int, period_start: datetime, period_end: datetime, at: datetime
) -> int:
    """The part of a period's ``amount`` still due at ``at``: all of it up to the start,
    none from the end, and in between the remaining fraction of the period, rounded down
    (so switching plans back and forth can never add up to more than a full period)."""
    if amount < 0:
        raise InvalidCreditRequestError("an allocation is of zero credits or more")
    if period_end <= period_start:
        raise InvalidCreditRequestError("a period ends after it starts")
    if at <= period_start:
        return amount
    if at >= period_end:
        return 0
    micro = timedelta(microseconds=1)
    return amount * ((period_end - at) // micro) // ((period_end - period_start) // micro)


def allocation_key(subscription_id: str, period_start: datetime) -> str:
    """The key of a subscription's allocations for the period starting ``period_start``."""
    return f"allocation:{subscription_id}:{period_start.isoformat()}"
