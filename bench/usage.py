"""Usage events ingested per second through the batch ingest, against a plain bulk insert.

The subject is ``UsageService.ingest`` on ``SqlUsageStore``: batches of 1,000 events
(10% of them re-sent events of the previous batch, the duplicates a retrying client
makes), each batch checked, deduplicated and stored in a unit of work of its own
(``SqlUnitOfWork``, one commit per batch, as the batch endpoint will do). The reference
is a plain bulk insert (``executemany``) of the same rows, prepared beforehand, into an
identical scratch table (same columns, primary key and index) in the same database, one
transaction per batch.

A round runs B batches on each side, the two back to back, alternating which goes
first; one warm-up round first. The subject's figure counts every event it was sent
(duplicates included), the reference's the rows it inserted (the 90% that are new):
the ratio is the median over rounds of the two in the same round. A stricter ratio
(the subject's stored rows per second) is printed too. Both tables grow through the
run, as a busy workspace's would.

``python -m bench usage`` or ``python -m bench.usage [--batches B] [--rounds R]
[--db sqlite|postgres|both]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from bench.common import (
    DATABASES,
    DEFAULT_POSTGRES_URL,
    RESULTS_DIR,
    Options,
    warn_if_busy,
    write_results,
)
from bench.postgres import PostgresUnavailableError, fresh_database, masked

GOAL_RATIO = 0.3
GOAL_POSTGRES_RATE = 10_000
BATCH = 1000
DUPLICATES = 100  # per batch: re-sent events of the previous batch
BATCHES = 20  # per round and side
WORKSPACES = 10
NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
SCRATCH = "bench_usage_baseline"


# -- the workload --------------------------------------------------------------------


@dataclass
class Batch:
    """One batch: what the service is sent, and the rows it is expected to store."""

    workspace_id: str
    events: list[Any]  # NewUsageEvent
    rows: list[dict[str, Any]]


def _meters() -> dict[str, Any]:
    from core.billing.usage import Aggregation, MeterSpec

    return {
        meter.name: meter
        for meter in (
            MeterSpec("api_calls", Aggregation.COUNT),
            MeterSpec("tokens", Aggregation.SUM, property="tokens"),
            MeterSpec("active_users", Aggregation.UNIQUE_COUNT, property="user"),
        )
    }


def make_batches(count: int, start: int) -> list[Batch]:
    """``count`` batches with ids after ``start``, spread over ``WORKSPACES``; each
    re-sends ``DUPLICATES`` events of its workspace's previous batch (a workspace's first
    batch repeats its own first events: duplicates within the batch)."""
    from core.billing.usage import NewUsageEvent, distinct_value

    batches: list[Batch] = []
    previous: dict[str, list[Any]] = {}
    serial = start
    for index in range(count):
        workspace_id = f"ws_bench_{(start // BATCH + index) % WORKSPACES}"
        fresh: list[Any] = []
        rows: list[dict[str, Any]] = []
        for position in range(BATCH - DUPLICATES):
            serial += 1
            meter = ("api_calls", "tokens", "active_users")[position % 3]
            at = NOW - timedelta(seconds=position)
            properties: dict[str, Any] = {
                "tokens": serial % 977,
                "user": f"usr_{serial % 313}",
                "model": "small" if serial % 2 else "large",
            }
            event = NewUsageEvent(
                id=f"evt_{serial:012d}", meter=meter, timestamp=at, properties=properties
            )
            fresh.append(event)
            rows.append(
                {
                    "workspace_id": workspace_id,
                    "event_id": event.id,
                    "meter": meter,
                    "timestamp": at,
                    "quantity": 1.0,
                    "value": float(properties["tokens"]) if meter == "tokens" else None,
                    "distinct_value": (
                        distinct_value(properties["user"]) if meter == "active_users" else None
                    ),
                    "properties": msgspec.json.encode(properties).decode(),
                    "received_at": NOW,
                }
            )
        resent = previous.get(workspace_id, fresh)[:DUPLICATES]
        batches.append(Batch(workspace_id, fresh + resent, rows))
        previous[workspace_id] = fresh
    return batches


# -- the two sides -------------------------------------------------------------------


@dataclass
class Leg:
    """One database: the subject's and the reference's rates per round."""

    database: str
    ours: list[float] = field(default_factory=list)  # events sent per second
    ours_stored: list[float] = field(default_factory=list)  # rows stored per second
    baseline: list[float] = field(default_factory=list)  # rows inserted per second
    ours_cpu_us: list[float] = field(default_factory=list)  # this process, per event
    baseline_cpu_us: list[float] = field(default_factory=list)
    checks: dict[str, int] = field(default_factory=dict)

    @property
    def ratios(self) -> list[float]:
        return [a / b for a, b in zip(self.ours, self.baseline, strict=True) if b]

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios) if self.ratios else 0.0

    @property
    def stored_ratio(self) -> float:
        pairs = zip(self.ours_stored, self.baseline, strict=True)
        return statistics.median(a / b for a, b in pairs if b) if self.baseline else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "ratio": self.ratio,
            "round_ratios": self.ratios,
            "stored_rows_ratio": self.stored_ratio,
            "median_events_per_second": statistics.median(self.ours) if self.ours else 0,
            "median_baseline_rows_per_second": statistics.median(self.baseline)
            if self.baseline
            else 0,
            "rounds_events_per_second": self.ours,
            "rounds_stored_rows_per_second": self.ours_stored,
            "rounds_baseline_rows_per_second": self.baseline,
            "rounds_cpu_us_per_event": self.ours_cpu_us,
            "rounds_baseline_cpu_us_per_row": self.baseline_cpu_us,
            "checks": self.checks,
        }


class Sides:
    """The engine, the service's units of work and the scratch table of one database."""

    def __init__(self, url: str) -> None:
        from adapters.sql.database import create_engine, create_session_factory

        self.engine = create_engine(url)
        self.sessions = create_session_factory(self.engine)
        self.results: dict[str, int] = {"accepted": 0, "duplicate": 0, "rejected": 0}

    async def prepare(self) -> None:
        """Migrate, then create the scratch table: the events table under another name,
        with the same primary key and indexes."""
        from sqlalchemy import MetaData
        from sqlalchemy.sql.elements import quoted_name

        from adapters.sql.billing.usage_tables import usage_events
        from adapters.sql.migrations.runner import upgrade

        await upgrade(self.engine)
        scratch_metadata = MetaData()
        self.scratch = usage_events.to_metadata(scratch_metadata, name=SCRATCH)
        self.scratch.primary_key.name = f"pk_{SCRATCH}"
        for index in self.scratch.indexes:  # index names are per database
            index.name = quoted_name(str(index.name).replace(usage_events.name, SCRATCH), None)
        async with self.engine.begin() as conn:
            await conn.run_sync(scratch_metadata.create_all)

    async def ours(self, batches: list[Batch]) -> None:
        from adapters.sql.billing.usage import SqlUsageStore
        from adapters.sql.uow import SqlUnitOfWork
        from core.billing.usage import UsageService
        from core.kernel import FixedClock, IdGenerator, TenantContext

        clock, ids, meters = FixedClock(NOW), IdGenerator(), _meters()
        for batch in batches:
            async with SqlUnitOfWork(self.sessions, clock, ids) as uow:
                service = UsageService(SqlUsageStore(uow.session), meters, clock)
                results = await service.ingest(TenantContext(batch.workspace_id), batch.events)
                await uow.commit()
            for result in results:
                self.results[str(result.status)] += 1

    async def baseline(self, batches: list[Batch]) -> None:
        from sqlalchemy import insert

        statement = insert(self.scratch)
        for batch in batches:
            async with self.sessions() as session:
                await session.execute(statement, batch.rows)
                await session.commit()

    async def counts(self) -> tuple[int, int]:
        from sqlalchemy import func, select

        from adapters.sql.billing.usage_tables import usage_events

        async with self.sessions() as session:
            ours = await session.scalar(select(func.count()).select_from(usage_events))
            theirs = await session.scalar(select(func.count()).select_from(self.scratch))
        return int(ours or 0), int(theirs or 0)

    async def close(self) -> None:
        await self.engine.dispose()


async def _timed(side: Any, batches: list[Batch]) -> tuple[float, float]:
    """Wall seconds and this process's CPU seconds of ``side(batches)``."""
    cpu, started = time.process_time(), time.perf_counter()
    await side(batches)
    return time.perf_counter() - started, time.process_time() - cpu


async def run_leg(leg: Leg, url: str, batches: int, rounds: int) -> None:
    sides = Sides(url)
    try:
        await sides.prepare()
        serial = 0
        for index in range(rounds + 1):  # round 0 warms up
            work = make_batches(batches if index else max(batches // 4, 1), serial)
            serial += len(work) * BATCH
            sent = sum(len(b.events) for b in work)
            rows = sum(len(b.rows) for b in work)
            order = ("ours", "baseline") if index % 2 == 0 else ("baseline", "ours")
            timings: dict[str, tuple[float, float]] = {}
            for name in order:
                side = sides.ours if name == "ours" else sides.baseline
                timings[name] = await _timed(side, work)
            if index == 0:
                continue
            (ours_s, ours_cpu), (base_s, base_cpu) = timings["ours"], timings["baseline"]
            leg.ours.append(sent / ours_s)
            leg.ours_stored.append(rows / ours_s)
            leg.baseline.append(rows / base_s)
            leg.ours_cpu_us.append(ours_cpu / sent * 1e6)
            leg.baseline_cpu_us.append(base_cpu / rows * 1e6)
            print(
                f"  round {index}  {leg.database:<8} ours {sent / ours_s:>8,.0f} events/s "
                f"({rows / ours_s:,.0f} rows stored/s, {ours_cpu / sent * 1e6:,.0f} us CPU per "
                f"event here)  baseline {rows / base_s:>8,.0f} rows/s "
                f"({base_cpu / rows * 1e6:,.0f} us)  ratio {(sent / ours_s) / (rows / base_s):.3f}",
                flush=True,
            )
        stored, inserted = await sides.counts()
        leg.checks = {**sides.results, "rows_stored": stored, "baseline_rows": inserted}
        if stored != inserted:
            raise RuntimeError(f"{leg.database}: stored {stored} rows, the baseline {inserted}")
    finally:
        await sides.close()


# -- the run -------------------------------------------------------------------------


def run(options: Options, *, batches: int = BATCHES) -> int:
    """Measure each database; 0 when measured (the goals' verdicts are printed), 2 when
    it could not run. An unreachable PostgreSQL is skipped, not failed."""
    print(
        f"\nninefold bench usage: events/s through UsageService.ingest ({BATCH}-event "
        f"batches, {DUPLICATES / BATCH:.0%} duplicates, a unit of work each) vs a plain "
        f"bulk insert of the same rows; {batches} batches x {options.rounds} rounds per side "
        "after a warm-up",
        flush=True,
    )
    busy = warn_if_busy()
    legs: list[Leg] = []
    skipped: dict[str, str] = {}
    with (
        tempfile.TemporaryDirectory(prefix="ninefold-bench-usage-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        for database in options.databases:
            if database == "sqlite":
                url = f"sqlite:///{Path(tmp) / 'usage.db'}"
            else:
                try:
                    url = stack.enter_context(fresh_database(options.postgres_url))
                except PostgresUnavailableError as exc:
                    skipped["postgres"] = f"PostgreSQL at {masked(options.postgres_url)}: {exc}"
                    print(f"  SKIPPED the PostgreSQL leg: {skipped['postgres']}", flush=True)
                    continue
            leg = Leg(database)
            try:
                asyncio.run(run_leg(leg, url, batches, options.rounds))
            except Exception as exc:
                print(f"error: {database}: {type(exc).__name__}: {exc}")
                return 2
            legs.append(leg)
    return report(legs, batches, options, skipped, busy)


def report(
    legs: list[Leg], batches: int, options: Options, skipped: dict[str, str], busy: float | None
) -> int:
    print()
    for leg in legs:
        rate = statistics.median(leg.ours)
        baseline = statistics.median(leg.baseline)
        spread = ", ".join(f"{r:.3f}" for r in leg.ratios)
        verdict = "met" if leg.ratio >= GOAL_RATIO else "NOT met"
        print(
            f"result {leg.database:<8} {rate:>8,.0f} events/s (median), baseline "
            f"{baseline:,.0f} rows/s; ratio {leg.ratio:.3f} (per round: {spread}; goal >= "
            f"{GOAL_RATIO}: {verdict}); stored rows/s ratio {leg.stored_ratio:.3f}"
        )
        if leg.database == "postgres":
            verdict = "met" if rate >= GOAL_POSTGRES_RATE else "NOT met"
            print(f"       postgres events/s goal >= {GOAL_POSTGRES_RATE:,}: {verdict}")
    path = write_results(
        options.results_dir,
        "usage",
        {
            "batch_size": BATCH,
            "duplicates_per_batch": DUPLICATES,
            "batches_per_round": batches,
            "rounds": options.rounds,
            "goal_ratio": GOAL_RATIO,
            "goal_postgres_events_per_second": GOAL_POSTGRES_RATE,
            "skipped": skipped,
            "environment": {"cpu_busy_before_run": busy},
            "legs": {leg.database: leg.as_dict() for leg in legs},
        },
    )
    print(f"written to {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.usage", description=__doc__)
    parser.add_argument("--batches", type=int, default=BATCHES, help="per round and side")
    parser.add_argument("--rounds", type=int, default=Options().rounds)
    parser.add_argument("--db", choices=(*DATABASES, "both"), default="both")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parsed = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if parsed.batches < 1 or parsed.rounds < 1:
        parser.error("--batches and --rounds must be >= 1")
    options = Options(
        rounds=parsed.rounds,
        databases=DATABASES if parsed.db == "both" else (parsed.db,),
        postgres_url=parsed.postgres_url,
        results_dir=parsed.results_dir,
    )
    return run(options, batches=parsed.batches)


if __name__ == "__main__":
    raise SystemExit(main())
