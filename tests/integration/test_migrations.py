"""Migrations: one branch per system, and they agree with the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, inspect, text

from adapters.sql.database import create_engine
from adapters.sql.migrations.runner import (
    alembic_config,
    current_revisions,
    downgrade,
    pending_revisions,
    upgrade,
)
from adapters.sql.schema import SYSTEM_METADATA

HEADS = {"billing_0004", "identity_0007", "notifications_0003", "safety_0006", "workflows_0003"}


def _combined() -> MetaData:
    combined = MetaData()
    for metadata in SYSTEM_METADATA.values():
        for table in metadata.tables.values():
            table.to_metadata(combined)
    return combined


async def test_the_models_and_the_migrations_agree(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            differences = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), _combined()
                )
            )
    finally:
        await engine.dispose()

    assert differences == [], "write a migration for these model changes"


def test_each_system_has_its_own_branch_named_after_it() -> None:
    scripts = ScriptDirectory.from_config(alembic_config())
    branches = {label for rev in scripts.walk_revisions() for label in rev.branch_labels}

    assert branches == set(SYSTEM_METADATA)
    for system in SYSTEM_METADATA:
        assert len(scripts.get_revisions(f"{system}@head")) == 1


def test_every_table_carries_its_system_prefix() -> None:
    for system, metadata in SYSTEM_METADATA.items():
        for name in metadata.tables:
            assert name.startswith(f"{system}_"), f"{name} belongs to {system}"


async def test_a_database_goes_down_to_base_and_up_again(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await downgrade(engine, "base")
        async with engine.connect() as conn:
            left = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        assert left <= {"alembic_version"}
        assert await pending_revisions(engine) == HEADS

        await upgrade(engine)

        assert await pending_revisions(engine) == set()
        assert await current_revisions(engine) == HEADS
    finally:
        await engine.dispose()


async def test_one_system_can_be_removed_without_touching_the_others(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await downgrade(engine, "identity@base")
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    finally:
        await engine.dispose()

    assert not any(name.startswith("identity_") for name in tables)
    assert {"workflows_outbox", "notifications_emails"} <= tables


async def test_sqlite_runs_in_wal_mode_with_foreign_keys_on(tmp_path: object) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/pragmas.db")
    try:
        async with engine.connect() as conn:
            journal = (await conn.execute(text("PRAGMA journal_mode"))).scalar_one()
            foreign_keys = (await conn.execute(text("PRAGMA foreign_keys"))).scalar_one()
    finally:
        await engine.dispose()

    assert (journal, foreign_keys) == ("wal", 1)
