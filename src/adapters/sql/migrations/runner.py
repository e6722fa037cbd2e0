"""Run Alembic from code: no alembic.ini, the engine comes from the caller.

Each system has its own branch (label = system name) under ``versions/<system>``;
``upgrade`` goes to ``heads``, i.e. the head of every branch.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.schema import SYSTEM_METADATA

HERE = Path(__file__).parent


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option(
        "version_locations",
        " ".join(str(HERE / "versions" / system) for system in SYSTEM_METADATA),
    )
    config.set_main_option("path_separator", "space")
    config.attributes["connection"] = connection
    return config


def script_heads() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


async def upgrade(engine: AsyncEngine, target: str = "heads") -> None:
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), target))


async def downgrade(engine: AsyncEngine, target: str) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.downgrade(alembic_config(sync), target))


async def current_revisions(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda sync: set(MigrationContext.configure(sync).get_current_heads())
        )


async def pending_revisions(engine: AsyncEngine) -> set[str]:
    """Heads not yet applied; empty when the database is current."""
    return script_heads() - await current_revisions(engine)
