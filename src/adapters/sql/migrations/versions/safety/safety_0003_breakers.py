"""safety: circuit breaker overrides forced by staff

Revision ID: safety_0003
Revises: safety_0002
Create Date: 2026-12-06
"""

from collections.abc import Sequence

revision: str = "safety_0003"
down_revision: str | None = "safety_0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
