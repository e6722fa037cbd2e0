"""The safety system's metadata (prefix ``safety_``). Each part defines its tables in a
module of its own on this ``metadata``; this module imports them at its end.

``safety_versions``: one row per topic (flags, kill switches, breakers), bumped in the
transaction of every change; processes poll it to reload their snapshots.
``safety_kill_switches``: each switch's current state; ``safety_kill_switch_changes``
every change (who, when, why), ids in time order.
"""

from sqlalchemy import BigInteger, Boolean, Column, Index, String, Table, Text

from adapters.sql.naming import system_metadata
from adapters.sql.types import UTCDateTime

metadata = system_metadata()

NAME_MAX = 64
ACTOR_MAX = 40

versions = Table(
    "safety_versions",
    metadata,
    Column("topic", String(32), primary_key=True),
    Column("version", BigInteger(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

kill_switches = Table(
    "safety_kill_switches",
    metadata,
    Column("name", String(NAME_MAX), primary_key=True),
    Column("engaged", Boolean(), nullable=False),
    Column("reason", Text(), nullable=False),
    Column("changed_by", String(ACTOR_MAX), nullable=True),
    Column("changed_at", UTCDateTime(), nullable=False),
)

kill_switch_changes = Table(
    "safety_kill_switch_changes",
    metadata,
    Column("id", String(ACTOR_MAX), primary_key=True),  # time-ordered: ksc_…
    Column("name", String(NAME_MAX), nullable=False),
    Column("engaged", Boolean(), nullable=False),
    Column("reason", Text(), nullable=False),
    Column("changed_by", String(ACTOR_MAX), nullable=True),
    Column("changed_at", UTCDateTime(), nullable=False),
    Index("ix_safety_kill_switch_changes_name", "name", "id"),
)

# Each part's tables, defined on ``metadata`` in modules of their own.
from adapters.sql.safety import (  # noqa: E402, F401
    audit_tables,
    breaker_tables,
    data_tables,
    flag_tables,
    impersonation_tables,
)
