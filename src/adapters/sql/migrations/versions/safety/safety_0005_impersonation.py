"""safety: impersonation sessions

Revision ID: safety_0005
Revises: safety_0004
Create Date: 2026-12-06
"""

from collections.abc import Sequence

revision: str = "safety_0005"
down_revision: str | None = "safety_0004"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
