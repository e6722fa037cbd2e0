"""What the workflows system keeps: messages in the transactional outbox."""

from __future__ import annotations

from datetime import datetime

import msgspec


class OutboxMessage(msgspec.Struct, frozen=True, kw_only=True):
    """A domain event stored with the transaction that raised it, awaiting delivery."""

    id: str
    name: str
    payload: bytes
    occurred_at: datetime
    workspace_id: str | None = None
    attempts: int = 0
    last_error: str | None = None
    published_at: datetime | None = None
