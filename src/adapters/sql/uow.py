"""The SQL unit of work: one session, one transaction, events stored in the outbox."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.sql.workflows.outbox import SqlOutboxStore, store_events
from core.kernel import AfterCommit, Clock, DomainEvent, IdGenerator

logger = logging.getLogger(__name__)

# Sees the events a commit is about to store, in its transaction (the audit log's).
CommitObserver = Callable[[AsyncSession, Sequence[DomainEvent], datetime], Awaitable[None]]


class SqlUnitOfWork:
    """``UnitOfWork`` over one ``AsyncSession``.

    ``on_events_committed`` is called after a commit that stored events (the composition
    root passes the relay's ``wake``), so subscribers hear of them at once.
    ``observers`` see each commit's events in its transaction before they are stored;
    ``before_commit`` callbacks run then too (both: the audit log's entries).
    """

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        clock: Clock,
        ids: IdGenerator,
        on_events_committed: Callable[[], None] | None = None,
        observers: Sequence[CommitObserver] = (),
    ) -> None:
        self._session_factory = session_factory
        self._clock = clock
        self._ids = ids
        self._on_events_committed = on_events_committed
        self._session: AsyncSession | None = None
        self._events: list[DomainEvent] = []
        self._after_commit: list[AfterCommit] = []
        self._before_commit: list[AfterCommit] = []
        self._observers = tuple(observers)

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("the unit of work is not open: use 'async with uow:'")
        return self._session

    @property
    def uow(self) -> Self:
        """Lets the unit of work serve as the relay's ``OutboxSession``."""
        return self

    @property
    def outbox(self) -> SqlOutboxStore:
        return SqlOutboxStore(self.session)

    async def __aenter__(self) -> Self:
        if self._session is not None:
            raise RuntimeError("a unit of work is entered once")
        self._session = self._session_factory()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.rollback()
        finally:
            await self.session.close()

    def raise_event(self, event: DomainEvent) -> None:
        self._events.append(event)

    def after_commit(self, callback: AfterCommit) -> None:
        self._after_commit.append(callback)

    def before_commit(self, callback: AfterCommit) -> None:
        """Run ``callback`` in the transaction, just before it commits."""
        self._before_commit.append(callback)

    async def commit(self) -> None:
        events, self._events = self._events, []
        now = self._clock.now()
        before, self._before_commit = self._before_commit, []
        for step in before:
            await step()
        for observe in self._observers:
            await observe(self.session, events, now)
        await store_events(self.session, events, self._ids, now)
        await self.session.commit()
        callbacks, self._after_commit = self._after_commit, []
        if events and self._on_events_committed is not None:
            self._on_events_committed()
        for callback in callbacks:
            try:
                await callback()
            except Exception:
                # The transaction is durable; an after-commit step must not turn it into
                # an error for the caller. It is logged for ops to see.
                logger.exception("after-commit callback failed")

    async def rollback(self) -> None:
        self._events.clear()
        self._after_commit.clear()
        self._before_commit.clear()
        if self._session is not None:
            await self._session.rollback()
