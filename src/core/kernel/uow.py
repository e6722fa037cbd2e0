"""The unit of work: one transaction per request or job, committed in one place.

Use cases raise domain events on it with ``raise_event``; the adapter stores them in the
outbox inside the same transaction, so an event exists exactly when its change does.
Callbacks registered with ``after_commit`` (enqueueing jobs, waking the relay) run only
once the commit has succeeded and are dropped on rollback.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Protocol, Self

from core.kernel.events import DomainEvent

AfterCommit = Callable[[], Awaitable[None]]


class UnitOfWork(Protocol):
    """One transaction. ``async with uow:`` rolls back unless ``commit()`` was called."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def raise_event(self, event: DomainEvent) -> None:
        """Record an event to be stored with this transaction's changes."""
        ...

    def after_commit(self, callback: AfterCommit) -> None:
        """Run ``callback`` after a successful commit; never on rollback."""
        ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...
