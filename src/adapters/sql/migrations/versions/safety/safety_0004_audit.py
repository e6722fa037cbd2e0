"""safety: the tamper-evident audit log

Revision ID: safety_0004
Revises: safety_0003
Create Date: 2026-12-06
"""

from collections.abc import Sequence

revision: str = "safety_0004"
down_revision: str | None = "safety_0003"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
