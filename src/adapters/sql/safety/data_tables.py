"""Data export and deletion requests (safety_0006).

``safety_data_requests``: one row per export or deletion, its state and, for a ready
export, the download token (a capability: anyone holding it may download until
``expires_at``; the archive on disk is named by the token's hash). An erased deletion
keeps the pseudonym in ``subject_id``: the proof that it ran, naming nobody.
"""

from sqlalchemy import BigInteger, Column, Index, String, Table, Text

from adapters.sql.safety.tables import metadata
from adapters.sql.types import UTCDateTime

ID_MAX = 40
TOKEN_MAX = 64
STATE_MAX = 16

data_requests = Table(
    "safety_data_requests",
    metadata,
    Column("id", String(ID_MAX), primary_key=True),  # time-ordered: dat_…
    Column("kind", String(STATE_MAX), nullable=False),
    Column("subject_kind", String(STATE_MAX), nullable=False),
    Column("subject_id", String(ID_MAX), nullable=False),
    Column("requested_by", String(ID_MAX), nullable=True),
    Column("state", String(STATE_MAX), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("due_at", UTCDateTime(), nullable=True),
    Column("token", String(TOKEN_MAX), nullable=True, unique=True),
    Column("expires_at", UTCDateTime(), nullable=True),
    Column("size", BigInteger(), nullable=True),
    Column("error", Text(), nullable=True),
    Index("ix_safety_data_requests_subject", "subject_kind", "subject_id", "id"),
    Index("ix_safety_data_requests_state", "state", "due_at"),
)
