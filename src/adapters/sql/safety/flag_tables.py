"""Feature flags' tables (docs/systems/safety/flags.md).

``safety_flags``: each flag's whole definition as JSON text, its version (raised by one
per change; an update whose version moved meanwhile is refused) and a few columns to
filter on. ``safety_segments``: reusable constraints, the same way.
``safety_flag_changes``: every change of a flag or segment, who, when, why, with the
whole definition before and after, ids in time order. ``safety_flag_schedules``: changes
to apply later (a patch as JSON), pending until the job applies or someone cancels them.
"""

from sqlalchemy import BigInteger, Boolean, Column, Index, String, Table, Text

from adapters.sql.safety.tables import metadata
from adapters.sql.types import UTCDateTime

KEY_MAX = 100
ID_MAX = 40

flags = Table(
    "safety_flags",
    metadata,
    Column("key", String(KEY_MAX), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("value_type", String(16), nullable=False),
    Column("client_visible", Boolean(), nullable=False),
    Column("definition", Text(), nullable=False),
    Column("version", BigInteger(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("archived_at", UTCDateTime(), nullable=True),
)

segments = Table(
    "safety_segments",
    metadata,
    Column("key", String(KEY_MAX), primary_key=True),
    Column("definition", Text(), nullable=False),
    Column("version", BigInteger(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

flag_changes = Table(
    "safety_flag_changes",
    metadata,
    Column("id", String(ID_MAX), primary_key=True),  # fch_…, time-ordered
    Column("subject", String(16), nullable=False),  # flag | segment
    Column("key", String(KEY_MAX), nullable=False),
    Column("action", String(24), nullable=False),
    Column("actor", String(ID_MAX), nullable=True),
    Column("reason", Text(), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("before", Text(), nullable=True),
    Column("after", Text(), nullable=True),
    Column("schedule_id", String(ID_MAX), nullable=True),
    Index("ix_safety_flag_changes_subject", "subject", "key", "id"),
)

flag_schedules = Table(
    "safety_flag_schedules",
    metadata,
    Column("id", String(ID_MAX), primary_key=True),  # fsc_…
    Column("key", String(KEY_MAX), nullable=False),
    Column("apply_at", UTCDateTime(), nullable=False),
    Column("patch", Text(), nullable=False),
    Column("reason", Text(), nullable=False),
    Column("created_by", String(ID_MAX), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("state", String(16), nullable=False),
    Column("done_at", UTCDateTime(), nullable=True),
    Column("detail", Text(), nullable=False),
    Index("ix_safety_flag_schedules_state", "state", "apply_at"),
    Index("ix_safety_flag_schedules_key", "key", "apply_at"),
)
