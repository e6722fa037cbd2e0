"""safety: feature flags, segments and their changes

Revision ID: safety_0002
Revises: safety_0001
Create Date: 2026-12-06
"""

from collections.abc import Sequence

revision: str = "safety_0002"
down_revision: str | None = "safety_0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
