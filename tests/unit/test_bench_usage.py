"""The usage benchmark (bench/usage.py): its workload, its checks, and a tiny run of it
against the real batch endpoint on SQLite."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest
import structlog

from bench import usage
from bench.common import Options

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """The run configures the app's logging, as the app's factory does: undo it."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def _events(batch: usage.Batch) -> list[dict[str, object]]:
    events: list[dict[str, object]] = msgspec.json.decode(batch.body)["events"]
    return events


def test_each_batch_resends_a_tenth_of_its_workspace_s_previous_batch() -> None:
    batches = usage.make_batches(4, 0, ["ws_a", "ws_b"], NOW)

    assert [b.workspace_id for b in batches] == ["ws_a", "ws_b", "ws_a", "ws_b"]
    for batch in batches:
        events = _events(batch)
        assert len(events) == usage.BATCH
        assert {e["meter"] for e in events} == {usage.METER}
        fresh = events[: usage.BATCH - usage.DUPLICATES]
        assert [e["id"] for e in fresh] == [r["event_id"] for r in batch.rows]
        assert len({e["id"] for e in fresh}) == len(fresh)
        for event, row in zip(fresh, batch.rows, strict=True):
            assert datetime.fromisoformat(str(event["timestamp"])) == row["timestamp"]
            assert NOW - row["timestamp"] < timedelta(hours=1)
            assert row["properties"] == msgspec.json.encode(event["properties"]).decode()
    first, second, third = (_events(b) for b in batches[:3])
    assert first[-usage.DUPLICATES :] == first[: usage.DUPLICATES]  # within its first batch
    assert third[-usage.DUPLICATES :] == first[: usage.DUPLICATES]  # its workspace's last
    assert not {e["id"] for e in second} & {e["id"] for e in first}


def test_a_rejected_event_fails_the_run() -> None:
    (batch,) = usage.make_batches(1, 0, ["ws_a"], NOW)
    results = [{"id": r["event_id"], "status": "accepted"} for r in batch.rows]
    results[0] = {"id": results[0]["id"], "status": "rejected", "reason": "limit_exceeded"}
    results += [{"id": "evt", "status": "duplicate"}] * usage.DUPLICATES
    answer = msgspec.json.encode(
        {"accepted": len(batch.rows) - 1, "duplicates": 100, "rejected": 1, "results": results}
    )
    sides = usage.Sides("sqlite:///:memory:")

    with pytest.raises(RuntimeError, match="limit_exceeded"):
        sides.check([batch], [answer])


def test_a_small_run_goes_through_the_endpoint_and_stores_what_the_reference_does(
    tmp_path: Path,
) -> None:
    options = Options(rounds=1, databases=("sqlite",), results_dir=tmp_path)

    assert usage.run(options, batches=2) == 0

    (written,) = tmp_path.glob("usage-*.json")
    checks = json.loads(written.read_text())["legs"]["sqlite"]["checks"]
    fresh = usage.BATCH - usage.DUPLICATES
    assert checks["requests"] == 3  # a warm-up batch, then two
    assert checks["rejected"] == 0
    assert checks["accepted"] == checks["rows_stored"] == checks["baseline_rows"] == 3 * fresh
    assert checks["duplicate"] == 3 * usage.DUPLICATES
