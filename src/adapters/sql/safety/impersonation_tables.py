"""The impersonation tables (prefix ``safety_``), on the safety system's metadata.

``safety_impersonations``: one row per impersonation: who acted as whom, why, until when,
the staff member's session it returns to and the user's session opened for it (with the
hash of that session's token, which each request with it is looked up by).
"""

from sqlalchemy import Column, Index, String, Table, Text

from adapters.sql.safety.tables import ACTOR_MAX, metadata
from adapters.sql.types import UTCDateTime

impersonations = Table(
    "safety_impersonations",
    metadata,
    Column("id", String(ACTOR_MAX), primary_key=True),  # imp_…, time-ordered
    Column("staff_id", String(ACTOR_MAX), nullable=False),
    Column("user_id", String(ACTOR_MAX), nullable=False),
    Column("reason", Text(), nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("staff_session_id", String(ACTOR_MAX), nullable=False),
    Column("session_id", String(ACTOR_MAX), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("ended_at", UTCDateTime(), nullable=True),
    Column("ended_reason", String(16), nullable=True),
    Column("ended_by", String(ACTOR_MAX), nullable=True),
    Index("ix_safety_impersonations_staff_id", "staff_id", "id"),
    Index("ix_safety_impersonations_user_id", "user_id", "id"),
    Index("ix_safety_impersonations_staff_session_id", "staff_session_id"),
    Index("ix_safety_impersonations_open", "ended_at", "expires_at"),
)
