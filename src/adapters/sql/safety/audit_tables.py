"""The audit log's tables (docs/systems/safety/audit.md).

``safety_audit_entries``: the entries, append-only, ``seq`` dense and unique; ``before``
and ``after`` are JSON text (hashed as read back). ``safety_audit_head``: one row, the
last entry's seq and hash; an append locks it, so concurrent appends queue up and never
fork the chain, and ``verify`` compares the chain's end with it (a removed tail shows).
"""

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from adapters.sql.safety.tables import metadata
from adapters.sql.types import UTCDateTime

HASH_LENGTH = 64
ID_MAX = 64

audit_entries = Table(
    "safety_audit_entries",
    metadata,
    Column("id", String(40), primary_key=True),  # aud_…, time-ordered
    Column("seq", BigInteger(), nullable=False, unique=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("action", String(64), nullable=False),
    Column("actor_type", String(16), nullable=False),
    Column("actor_id", String(ID_MAX), nullable=True),
    Column("impersonator_id", String(ID_MAX), nullable=True),
    Column("workspace_id", String(ID_MAX), nullable=True),
    Column("target_type", String(40), nullable=True),
    Column("target_id", String(ID_MAX * 2), nullable=True),
    Column("before", Text(), nullable=True),
    Column("after", Text(), nullable=True),
    Column("reason", Text(), nullable=True),
    Column("ip", String(64), nullable=True),
    Column("user_agent", String(400), nullable=True),
    Column("request_id", String(128), nullable=True),
    Column("salt", String(32), nullable=True),
    Column("personal_digest", String(HASH_LENGTH), nullable=False),
    Column("pseudonymized_by", BigInteger(), nullable=True),
    Column("prev_hash", String(HASH_LENGTH), nullable=False),
    Column("hash", String(HASH_LENGTH), nullable=False),
    Index("ix_safety_audit_entries_workspace", "workspace_id", "seq"),
    Index("ix_safety_audit_entries_actor", "actor_id", "seq"),
    Index("ix_safety_audit_entries_action", "action", "seq"),
    Index("ix_safety_audit_entries_target", "target_type", "target_id", "seq"),
    Index("ix_safety_audit_entries_at", "at"),
    Index("ix_safety_audit_entries_pseudonymized_by", "pseudonymized_by"),
)

audit_head = Table(
    "safety_audit_head",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=False),  # always 1
    Column("seq", BigInteger(), nullable=False),
    Column("hash", String(HASH_LENGTH), nullable=False),
)
