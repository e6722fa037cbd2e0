"""The circuit breakers' tables, on the safety metadata.

``safety_breaker_overrides``: each breaker's latest staff override (forced open, forced
closed, or ``none`` after a reset) with the id of the change that made it;
``safety_breaker_changes``: every change (who, when, why), ids in time order. A
breaker's runtime state (its window, open or closed) is each process's own and is not
stored.
"""

from sqlalchemy import Column, Index, String, Table, Text

from adapters.sql.safety.tables import ACTOR_MAX, NAME_MAX, metadata
from adapters.sql.types import UTCDateTime

KIND_MAX = 16

breaker_overrides = Table(
    "safety_breaker_overrides",
    metadata,
    Column("name", String(NAME_MAX), primary_key=True),
    Column("kind", String(KIND_MAX), nullable=False),
    Column("reason", Text(), nullable=False),
    Column("changed_by", String(ACTOR_MAX), nullable=True),
    Column("changed_at", UTCDateTime(), nullable=False),
    Column("change_id", String(ACTOR_MAX), nullable=False),
)

breaker_changes = Table(
    "safety_breaker_changes",
    metadata,
    Column("id", String(ACTOR_MAX), primary_key=True),  # time-ordered: brk_…
    Column("name", String(NAME_MAX), nullable=False),
    Column("kind", String(KIND_MAX), nullable=False),
    Column("reason", Text(), nullable=False),
    Column("changed_by", String(ACTOR_MAX), nullable=True),
    Column("changed_at", UTCDateTime(), nullable=False),
    Index("ix_safety_breaker_changes_name", "name", "id"),
)
