"""Usage events ingested per second through the batch endpoint, against a plain bulk insert.

The subject is ``POST /api/v1/workspaces/{id}/usage/batch`` of the real app
(``create_app(build_container(settings))``, the worker off, its lifespan run in this
event loop), sent over ``httpx.ASGITransport``: in process, without a socket, so it
measures the whole stack (routing, the bearer session, the tenant guard, JSON decoding
and validation, the ingest with its checks, deduplication and limit checks, the usage
alerts, the commit, the encoded response) but no network, no HTTP parsing by a server
and no second process. Batches of 1,000 ``api_calls`` events (10% of them re-sent events
of the workspace's previous batch, the duplicates a retrying client makes), the request
bodies encoded beforehand, one request after the other, spread over ten workspaces of
one owner (the free plan: a soft limit on ``api_calls`` only, so the limit check runs
and nothing is rejected; every response is checked after the timing, and a batch that
is not exactly 900 accepted and 100 duplicates fails the run).

The reference is a plain bulk insert (``executemany``) of the same rows, prepared
beforehand, into an identical scratch table (same columns, primary key and indexes) in
the same database, one transaction per batch, on an engine of its own.

A round runs B batches on each side, the two back to back, alternating which goes
first; one warm-up round first. The subject's figure counts every event it was sent
(duplicates included), the reference's the rows it inserted (the 90% that are new):
the ratio is the median over rounds of the two in the same round. A stricter ratio
(the subject's stored rows per second) is printed too. Both tables grow through the
run, as a busy workspace's would. The client, the app and (SQLite) the database share
this one process: its CPU time per event is printed per round.

``python -m bench usage`` or ``python -m bench.usage [--batches B] [--rounds R]
[--db sqlite|postgres|both]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    import httpx
    from litestar import Litestar
    from sqlalchemy import Table

    from entrypoints.containers import ApplicationContainer

GOAL_RATIO = 0.3
GOAL_POSTGRES_RATE = 10_000
BATCH = 1000
DUPLICATES = 100  # per batch: re-sent events of the previous batch
BATCHES = 20  # per round and side
WORKSPACES = 10
METER = "api_calls"  # count; the free plan has a soft limit on it, no hard one
SCRATCH = "bench_usage_baseline"
BASE_URL = "https://bench.local"
OWNER_EMAIL = "usage-bench@example.com"


# -- the workload --------------------------------------------------------------------


@dataclass
class Batch:
    """One request: its workspace and encoded body, and the rows it is expected to store."""

    workspace_id: str
    body: bytes  # {"events": [...]}, BATCH events
    rows: list[dict[str, Any]]


def make_batches(count: int, start: int, workspaces: Sequence[str], now: datetime) -> list[Batch]:
    """``count`` batches with ids after ``start``, spread over ``workspaces``; each re-sends
    ``DUPLICATES`` events of its workspace's previous batch (a workspace's first batch
    repeats its own first events: duplicates within the batch). Events are stamped up to
    15 minutes before ``now``; the rows are received at ``now``."""
    batches: list[Batch] = []
    previous: dict[str, list[dict[str, Any]]] = {}
    serial = start
    for index in range(count):
        workspace_id = workspaces[(start // BATCH + index) % len(workspaces)]
        fresh: list[dict[str, Any]] = []
        rows: list[dict[str, Any]] = []
        for position in range(BATCH - DUPLICATES):
            serial += 1
            at = now - timedelta(seconds=position)
            properties: dict[str, Any] = {
                "tokens": serial % 977,
                "user": f"usr_{serial % 313}",
                "model": "small" if serial % 2 else "large",
            }
            event_id = f"evt_{serial:012d}"
            fresh.append(
                {
                    "id": event_id,
                    "meter": METER,
                    "timestamp": at.isoformat(),
                    "quantity": 1,
                    "properties": properties,
                }
            )
            rows.append(
                {
                    "workspace_id": workspace_id,
                    "event_id": event_id,
                    "meter": METER,
                    "timestamp": at,
                    "quantity": 1,
                    "value": None,  # a count's events carry no value ...
                    "distinct_value": None,  # ... and no distinct value
                    "properties": msgspec.json.encode(properties).decode(),
                    "received_at": now,
                }
            )
        resent = previous.get(workspace_id, fresh)[:DUPLICATES]
        body = msgspec.json.encode({"events": fresh + resent})
        batches.append(Batch(workspace_id, body, rows))
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


class BatchOutcome(msgspec.Struct):
    """The part of the endpoint's answer the run checks."""

    accepted: int
    duplicates: int
    rejected: int
    results: list[dict[str, Any]]


def app_settings(url: str, data_dir: Path) -> Any:
    """The app's settings for the subject: ``url``, no worker, a fast password hasher."""
    from entrypoints.settings import Settings

    return Settings(
        env="development",
        data_dir=str(data_dir),
        database_url=url,
        secret_key=secrets.token_urlsafe(48),
        password_hasher="fast-insecure",
        run_worker=False,
        log_level="warning",
    )


@contextlib.asynccontextmanager
async def serving(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """A client talking to ``app`` in this event loop, inside the app's lifespan (as
    ``entrypoints.testing.plugin.serve_in_process`` does: the database pool must live in
    the loop that runs the requests); the lifespan's shutdown closes the container."""
    import httpx

    async with app.lifespan():
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]  # ASGI, typed stricter
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            yield client


class Sides:
    """The app and its client, and the scratch table on an engine of its own, of one
    database."""

    def __init__(self, url: str) -> None:
        from adapters.sql.database import create_engine, create_session_factory

        self.url = url
        self.engine = create_engine(url)
        self.sessions = create_session_factory(self.engine)
        self.results: dict[str, int] = {"accepted": 0, "duplicate": 0, "rejected": 0}
        self.soft_limit_crossed = 0
        self.requests = 0
        self.client: httpx.AsyncClient | None = None
        self.headers: dict[str, str] = {}
        self.workspaces: list[str] = []
        self.scratch: Table | None = None

    async def prepare(self) -> None:
        """Migrate, then create the scratch table: the events table under another name,
        with the same primary key and indexes."""
        from sqlalchemy import MetaData
        from sqlalchemy.sql.elements import quoted_name

        from adapters.sql.billing.usage_tables import usage_events
        from adapters.sql.migrations.runner import upgrade

        await upgrade(self.engine)
        scratch_metadata = MetaData()
        scratch = usage_events.to_metadata(scratch_metadata, name=SCRATCH)
        scratch.primary_key.name = f"pk_{SCRATCH}"
        for index in scratch.indexes:  # index names are per database
            index.name = quoted_name(str(index.name).replace(usage_events.name, SCRATCH), None)
        async with self.engine.begin() as conn:
            await conn.run_sync(scratch_metadata.create_all)
        self.scratch = scratch

    async def sign_up(self, container: ApplicationContainer, client: httpx.AsyncClient) -> None:
        """An owner (registered through the identity service, signed in with a bearer
        token) and ``WORKSPACES`` workspaces of theirs."""
        password = secrets.token_urlsafe(24)
        async with container.unit_of_work() as uow:
            await container.identity.service(uow=uow).register_user(
                OWNER_EMAIL, "Usage Bench", password
            )
            await uow.commit()
        response = await client.post(
            "/api/v1/auth/sign-in",
            json={"email": OWNER_EMAIL, "password": password, "transport": "bearer"},
        )
        if response.status_code != 200:
            raise RuntimeError(f"sign-in answered {response.status_code}: {response.text}")
        self.headers = {
            "Authorization": f"Bearer {response.json()['token']}",
            "Content-Type": "application/json",
        }
        for number in range(WORKSPACES):
            response = await client.post(
                "/api/v1/workspaces", json={"name": f"Bench {number}"}, headers=self.headers
            )
            if response.status_code != 201:
                raise RuntimeError(f"creating a workspace answered {response.status_code}")
            self.workspaces.append(str(response.json()["id"]))
        self.client = client

    async def ours(self, batches: list[Batch]) -> list[bytes]:
        """Post each batch; the response bodies, checked after the timing (``check``)."""
        assert self.client is not None
        post, headers = self.client.post, self.headers
        answers: list[bytes] = []
        for batch in batches:
            response = await post(
                f"/api/v1/workspaces/{batch.workspace_id}/usage/batch",
                content=batch.body,
                headers=headers,
            )
            if response.status_code != 200:
                raise RuntimeError(
                    f"the batch endpoint answered {response.status_code}: {response.text[:500]}"
                )
            answers.append(response.content)
        return answers

    def check(self, batches: list[Batch], answers: list[bytes]) -> None:
        """Every event accepted or a duplicate, exactly as many of each as sent: a
        rejected event (a limit, a late timestamp, ...) would measure something else."""
        decode = msgspec.json.Decoder(BatchOutcome).decode
        for batch, answer in zip(batches, answers, strict=True):
            outcome = decode(answer)
            statuses = [str(result["status"]) for result in outcome.results]
            for status in statuses:
                self.results[status] = self.results.get(status, 0) + 1
            self.soft_limit_crossed += sum(
                1 for result in outcome.results if result.get("soft_limit_crossed")
            )
            self.requests += 1
            expected = (len(batch.rows), DUPLICATES, 0)
            found = (outcome.accepted, outcome.duplicates, outcome.rejected)
            if found != expected or len(statuses) != BATCH:
                rejected = [r for r in outcome.results if r["status"] == "rejected"][:3]
                raise RuntimeError(
                    f"a batch of workspace {batch.workspace_id} gave (accepted, duplicates, "
                    f"rejected) {found}, expected {expected}; rejected, first: {rejected}"
                )

    async def baseline(self, batches: list[Batch]) -> None:
        from sqlalchemy import insert

        assert self.scratch is not None
        statement = insert(self.scratch)
        for batch in batches:
            async with self.sessions() as session:
                await session.execute(statement, batch.rows)
                await session.commit()

    async def counts(self) -> tuple[int, int]:
        from sqlalchemy import func, select

        from adapters.sql.billing.usage_tables import usage_events

        assert self.scratch is not None
        async with self.sessions() as session:
            ours = await session.scalar(select(func.count()).select_from(usage_events))
            theirs = await session.scalar(select(func.count()).select_from(self.scratch))
        return int(ours or 0), int(theirs or 0)

    async def close(self) -> None:
        await self.engine.dispose()


async def _timed(
    side: Callable[[list[Batch]], Awaitable[Any]], batches: list[Batch]
) -> tuple[float, float, Any]:
    """Wall seconds, this process's CPU seconds and the result of ``side(batches)``."""
    cpu, started = time.process_time(), time.perf_counter()
    result = await side(batches)
    return time.perf_counter() - started, time.process_time() - cpu, result


async def run_leg(leg: Leg, url: str, batches: int, rounds: int, data_dir: Path) -> None:
    from entrypoints.containers import build_container
    from entrypoints.http.app import create_app
    from entrypoints.logging import configure_logging

    sides = Sides(url)
    try:
        await sides.prepare()
        settings = app_settings(url, data_dir)
        configure_logging(settings)
        container = build_container(settings)
        async with serving(create_app(container, run_worker=False)) as client:
            await sides.sign_up(container, client)
            await _rounds(leg, sides, batches, rounds)
        stored, inserted = await sides.counts()
        leg.checks = {
            **sides.results,
            "soft_limit_crossed": sides.soft_limit_crossed,
            "requests": sides.requests,
            "rows_stored": stored,
            "baseline_rows": inserted,
        }
        if stored != inserted:
            raise RuntimeError(f"{leg.database}: stored {stored} rows, the baseline {inserted}")
    finally:
        await sides.close()


async def _rounds(leg: Leg, sides: Sides, batches: int, rounds: int) -> None:
    serial = 0
    for index in range(rounds + 1):  # round 0 warms up
        count = batches if index else max(batches // 4, 1)
        work = make_batches(count, serial, sides.workspaces, datetime.now(UTC))
        serial += len(work) * BATCH
        sent, rows = len(work) * BATCH, sum(len(b.rows) for b in work)
        order = ("ours", "baseline") if index % 2 == 0 else ("baseline", "ours")
        timings: dict[str, tuple[float, float]] = {}
        for name in order:
            if name == "ours":
                seconds, cpu, answers = await _timed(sides.ours, work)
                sides.check(work, answers)
            else:
                seconds, cpu, _ = await _timed(sides.baseline, work)
            timings[name] = (seconds, cpu)
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


# -- the run -------------------------------------------------------------------------


def run(options: Options, *, batches: int = BATCHES) -> int:
    """Measure each database; 0 when measured (the goals' verdicts are printed), 2 when
    it could not run. An unreachable PostgreSQL is skipped, not failed."""
    print(
        f"\nninefold bench usage: events/s through POST /api/v1/workspaces/{{id}}/usage/batch "
        f"(in process over httpx.ASGITransport; {BATCH}-event batches of {METER}, "
        f"{DUPLICATES / BATCH:.0%} duplicates) vs a plain bulk insert of the same rows; "
        f"{batches} batches x {options.rounds} rounds per side after a warm-up",
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
                asyncio.run(run_leg(leg, url, batches, options.rounds, Path(tmp) / database))
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
            "subject": "POST /api/v1/workspaces/{id}/usage/batch, in process (httpx.ASGITransport)",
            "reference": "executemany INSERT of the same rows into a scratch copy of the table",
            "meter": METER,
            "batch_size": BATCH,
            "duplicates_per_batch": DUPLICATES,
            "workspaces": WORKSPACES,
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
