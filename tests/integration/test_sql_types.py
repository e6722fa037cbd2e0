from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, select
from sqlalchemy.exc import StatementError

from adapters.sql.database import create_engine
from adapters.sql.types import UTCDateTime

metadata = MetaData()
stamps = Table(
    "stamps", metadata, Column("id", Integer, primary_key=True), Column("at", UTCDateTime())
)


async def test_times_come_back_aware_and_in_utc(database_url: str) -> None:
    engine = create_engine(database_url)
    paris = datetime(2030, 6, 1, 14, 30, tzinfo=timezone(timedelta(hours=2)))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await conn.execute(insert(stamps).values(id=1, at=paris))
            stored = (await conn.execute(select(stamps.c.at))).scalar_one()
            await conn.run_sync(metadata.drop_all)
    finally:
        await engine.dispose()

    assert stored == datetime(2030, 6, 1, 12, 30, tzinfo=UTC)
    assert stored.utcoffset() == timedelta(0)


async def test_naive_times_are_refused(tmp_path: object) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/naive.db")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            with pytest.raises(StatementError, match="naive"):
                await conn.execute(insert(stamps).values(id=1, at=datetime(2030, 1, 1)))
    finally:
        await engine.dispose()
