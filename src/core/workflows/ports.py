"""What the workflows system needs from outside."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from core.workflows.model import OutboxMessage


class OutboxStore(Protocol):
    """Reads and settles outbox messages. Writing them is the unit of work's job.

    ``claim`` leases pending messages to one relay until ``lease_until``: no other relay
    sees them meanwhile, and if this one crashes they are handed out again once the lease
    has passed. Delivery therefore happens outside any open transaction.
    """

    async def claim(
        self, limit: int, now: datetime, lease_until: datetime
    ) -> Sequence[OutboxMessage]:
        """Up to ``limit`` pending, unleased messages, oldest first, now leased."""
        ...

    async def mark_published(self, message_id: str, at: datetime) -> None: ...

    async def mark_failed(self, message_id: str, error: str, retry_at: datetime) -> None:
        """Count a failed attempt; the message stays pending until ``retry_at``."""
        ...

    async def pending_count(self) -> int: ...
