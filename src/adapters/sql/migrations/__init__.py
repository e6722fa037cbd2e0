"""Alembic migrations, one branch per system (``versions/<system>/``)."""
