"""Domain events: what happened, as immutable msgspec Structs with a stable name.

Each event type declares ``name`` (``system.thing_happened``), which is its wire name in
the outbox, in subscriptions and in ``contracts/events/``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar

import msgspec

AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]


class DomainEvent(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every domain event. Subclasses set ``name`` and add their fields.

    An event that is also an audit log entry sets ``audit_action`` (``"flag.updated"``)
    and, if it concerns something, ``audit_target``: the target's type and the name of
    the field holding its id (``("flag", "key")``). Fields named ``before``, ``after``
    and ``reason`` are taken as the entry's; who acted and from where comes from the
    request context (``core.safety.context``)."""

    name: ClassVar[str] = ""
    version: ClassVar[int] = 1
    audit_action: ClassVar[str | None] = None
    audit_target: ClassVar[tuple[str, str] | None] = None

    occurred_at: AwareDatetime
    workspace_id: str | None = None


def encode_event(event: DomainEvent) -> bytes:
    return msgspec.json.encode(event)


def decode_event(event_cls: type[DomainEvent], payload: bytes) -> DomainEvent:
    return msgspec.json.decode(payload, type=event_cls)
