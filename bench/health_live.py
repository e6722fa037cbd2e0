"""``GET /health/live`` through the app's full stack, as a ratio to bare Litestar.

Both apps are served by granian the same way (``bench.serve``), started together, then
loaded alternately with the same generator for the same time; the ratio is the median
requests/second of the full app over the median of the bare one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.metadata
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.loadgen import (
    Load,
    LoadGenerator,
    PythonGenerator,
    WrkGenerator,
    find_wrk,
    install_wrk,
)
from bench.servers import (
    BARE_TARGET,
    FULL_TARGET,
    PATH,
    Server,
    ServerError,
    app_environment,
    free_port,
    migrate,
)

GOAL = 0.7
BUSY_WARNING = 0.15  # share of the CPUs others may use before the figures are called noisy
RESULTS_DIR = Path(__file__).with_name("results")


@dataclass(frozen=True)
class Options:
    """What to run; the defaults take about 40 s per generator."""

    seconds: int = 5
    rounds: int = 3
    warmup: int = 2
    connections: int = 32
    generator: str = "auto"  # auto | wrk | python | both
    parallelism: int | None = None  # wrk threads / client processes
    install_wrk: bool = False
    min_ratio: float | None = None
    results_dir: Path = RESULTS_DIR


@dataclass(frozen=True)
class Sample:
    """One measurement of one server: the load and the server's CPU time meanwhile."""

    load: Load
    cpu_seconds: float | None  # the server's
    client_cpu_seconds: float  # the load generator's

    @property
    def rps(self) -> float:
        return self.load.rps

    @property
    def cpu_us(self) -> float | None:
        """Server CPU microseconds per request."""
        if self.cpu_seconds is None or not self.load.requests:
            return None
        return self.cpu_seconds / self.load.requests * 1e6

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self.load),
            "rps": self.rps,
            "server_cpu_seconds": self.cpu_seconds,
            "client_cpu_seconds": self.client_cpu_seconds,
        }


@dataclass
class Comparison:
    """One generator's rounds against both servers."""

    generator: str
    full: list[Sample] = field(default_factory=list)
    bare: list[Sample] = field(default_factory=list)

    @property
    def full_rps(self) -> float:
        return statistics.median(s.rps for s in self.full)

    @property
    def bare_rps(self) -> float:
        return statistics.median(s.rps for s in self.bare)

    @property
    def ratio(self) -> float:
        """The headline: median full req/s over median bare req/s."""
        return self.full_rps / self.bare_rps if self.bare_rps else 0.0

    @property
    def round_ratios(self) -> list[float]:
        return [f.rps / b.rps if b.rps else 0.0 for f, b in zip(self.full, self.bare, strict=True)]

    @property
    def full_cpu_us(self) -> float | None:
        return _median_or_none([s.cpu_us for s in self.full])

    @property
    def bare_cpu_us(self) -> float | None:
        return _median_or_none([s.cpu_us for s in self.bare])

    @property
    def cpu_ratio(self) -> float | None:
        """Bare over full server CPU per request: the ratio at equal CPU, which other
        load on the machine disturbs far less than req/s."""
        if self.full_cpu_us is None or self.bare_cpu_us is None:
            return None
        return self.bare_cpu_us / self.full_cpu_us

    @property
    def failures(self) -> int:
        return sum(s.load.errors + s.load.bad_status for s in [*self.full, *self.bare])


def _median_or_none(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known and len(known) == len(values) else None


def generators(options: Options) -> list[LoadGenerator]:
    """The generators to use, wrk first; the Python client when wrk is missing."""
    wrk = find_wrk()
    if wrk is None and options.install_wrk and options.generator in ("auto", "wrk", "both"):
        print("wrk not found: trying apt-get install wrk ...", flush=True)
        wrk = install_wrk()
    chosen: list[LoadGenerator] = []
    if options.generator in ("auto", "wrk", "both"):
        if wrk is not None:
            chosen.append(WrkGenerator(wrk, options.parallelism))
        elif options.generator == "wrk":
            print("error: wrk is not installed (apt-get install wrk, or --install-wrk)")
            return []
        else:
            print("wrk not found: using the Python load generator", flush=True)
    if options.generator in ("python", "both") or not chosen:
        chosen.append(PythonGenerator(options.parallelism))
    return chosen


def compare(generator: LoadGenerator, full: Server, bare: Server, options: Options) -> Comparison:
    """Warm both servers up, then measure them alternately for ``options.rounds``."""
    result = Comparison(generator.name)
    print(f"\n== generator: {generator.name}", flush=True)
    if options.warmup > 0:
        for server in (full, bare):
            generator.run(server.port, PATH, options.connections, options.warmup)
    for index in range(options.rounds):
        order = (full, bare) if index % 2 == 0 else (bare, full)
        for server in order:
            before, client_before = server.cpu_seconds(), _children_cpu_seconds()
            load = generator.run(server.port, PATH, options.connections, options.seconds)
            after, client_after = server.cpu_seconds(), _children_cpu_seconds()
            cpu = after - before if after is not None and before is not None else None
            sample = Sample(load, cpu, client_after - client_before)
            (result.full if server is full else result.bare).append(sample)
            print(f"  round {index + 1}  {server.name:<4}  {_describe(sample)}", flush=True)
    for name, rps, cpu_us in (
        ("full", result.full_rps, result.full_cpu_us),
        ("bare", result.bare_rps, result.bare_cpu_us),
    ):
        cpu_text = f", {cpu_us:.1f} server CPU us/request" if cpu_us is not None else ""
        print(f"  {name}  {rps:>10,.0f} req/s{cpu_text} (medians)")
    spread = ", ".join(f"{r:.3f}" for r in result.round_ratios)
    verdict = "met" if result.ratio >= GOAL else "NOT met"
    print(f"  ratio {result.ratio:.3f}  (per round: {spread}; goal >= {GOAL}: {verdict})")
    if result.cpu_ratio is not None:
        print(f"  CPU-per-request ratio (bare/full) {result.cpu_ratio:.3f}")
    if result.failures:
        print(f"  WARNING: {result.failures} errors or >= 400 responses: figures are suspect")
    return result


def _children_cpu_seconds() -> float:
    """CPU time of the finished child processes: the load generator's runs."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _describe(sample: Sample) -> str:
    load = sample.load
    seconds = load.seconds or 1.0
    text = f"{load.rps:>10,.0f} req/s  ({load.requests} in {load.seconds:.2f} s"
    if sample.cpu_seconds is not None and sample.cpu_us is not None:
        text += f"; server {sample.cpu_seconds / seconds:.2f} CPUs, {sample.cpu_us:.1f} us/req"
    text += f"; client {sample.client_cpu_seconds / seconds:.2f} CPUs"
    if load.p50_ms is not None and load.p99_ms is not None:
        text += f"; p50 {load.p50_ms:.2f} ms, p99 {load.p99_ms:.2f} ms"
    if load.errors or load.bad_status:
        text += f"; {load.errors} errors, {load.bad_status} bad status"
    return text + ")"


def run(options: Options) -> int:
    """Run the benchmark; 0, or 1 below ``min_ratio``, or 2 when it cannot run."""
    chosen = generators(options)
    if not chosen:
        return 2
    print(
        f"ninefold bench: GET {PATH}, full stack ({FULL_TARGET}) vs bare Litestar "
        f"({BARE_TARGET})\ngranian ASGI, 1 worker, default loop; {options.connections} "
        f"keep-alive connections; {options.rounds} rounds x {options.seconds} s per server "
        f"after {options.warmup} s warm-up\nfull app: NINEFOLD_ENV=development, "
        "NINEFOLD_RUN_WORKER=false (HTTP only), fresh SQLite data dir, migrated",
        flush=True,
    )
    busy = machine_busy()
    if busy is not None and busy > BUSY_WARNING:
        print(
            f"warning: other processes kept {busy:.0%} of the CPUs busy just before the run; "
            "the figures will be noisy",
            flush=True,
        )
    with tempfile.TemporaryDirectory(prefix="ninefold-bench-") as tmp:
        work = Path(tmp)
        full_port = free_port()
        bare_port = free_port()
        while bare_port == full_port:
            bare_port = free_port()
        env = app_environment(work / "data", full_port)
        full = Server("full", FULL_TARGET, full_port, env, work / "full.log")
        bare = Server("bare", BARE_TARGET, bare_port, env, work / "bare.log")
        with contextlib.ExitStack() as stack:
            try:
                migrate(env, work / "migrate.log")
                for server in (full, bare):
                    stack.callback(server.stop)
                    server.start()
                headers = {server.name: server.wait_ready() for server in (full, bare)}
            except ServerError as exc:
                print(f"error: {exc}")
                for log in sorted(work.glob("*.log")):
                    print(f"--- {log.name} (last lines)\n{_tail(log)}")
                return 2
            if "x-request-id" not in headers["full"]:
                print("warning: the full app's answer has no x-request-id: is the stack in place?")
            try:
                comparisons = [compare(g, full, bare, options) for g in chosen]
            except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                print(f"error while measuring: {type(exc).__name__}: {exc}")
                return 2
    headline = comparisons[0]
    path = _write_results(options, comparisons, headers, busy)
    print(f"\nresult: ratio {headline.ratio:.3f} with {headline.generator}; written to {path}")
    if options.min_ratio is not None and headline.ratio < options.min_ratio:
        print(f"below --min-ratio {options.min_ratio}")
        return 1
    return 0


def machine_busy(seconds: float = 1.0) -> float | None:
    """The fraction of all CPUs busy over ``seconds``, from ``/proc/stat`` (Linux)."""

    def sample() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        return sum(fields), fields[3] + fields[4]  # all, idle + iowait

    try:
        total_before, idle_before = sample()
        time.sleep(seconds)
        total_after, idle_after = sample()
    except (OSError, ValueError, IndexError):
        return None
    total = total_after - total_before
    return 1 - (idle_after - idle_before) / total if total > 0 else None


def _tail(log: Path, lines: int = 20) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _write_results(
    options: Options,
    comparisons: list[Comparison],
    headers: dict[str, dict[str, str]],
    busy: float | None,
) -> Path:
    now = dt.datetime.now(dt.UTC)
    document: dict[str, Any] = {
        "benchmark": "health_live",
        "path": PATH,
        "timestamp": now.isoformat(timespec="seconds"),
        "goal_ratio": GOAL,
        "ratio": comparisons[0].ratio,
        "goal_met": comparisons[0].ratio >= GOAL,
        "options": {
            "seconds": options.seconds,
            "rounds": options.rounds,
            "warmup": options.warmup,
            "connections": options.connections,
            "generator": options.generator,
        },
        "environment": {**_environment(), "cpu_busy_before_run": busy},
        "response_headers": headers,
        "comparisons": [
            {
                "generator": c.generator,
                "ratio": c.ratio,
                "round_ratios": c.round_ratios,
                "full_median_rps": c.full_rps,
                "bare_median_rps": c.bare_rps,
                "cpu_ratio": c.cpu_ratio,
                "full_median_cpu_us_per_request": c.full_cpu_us,
                "bare_median_cpu_us_per_request": c.bare_cpu_us,
                "full_rounds": [sample.as_dict() for sample in c.full],
                "bare_rounds": [sample.as_dict() for sample in c.bare],
            }
            for c in comparisons
        ],
    }
    options.results_dir.mkdir(parents=True, exist_ok=True)
    path = options.results_dir / f"health_live-{now:%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def _environment() -> dict[str, Any]:
    versions = {}
    for package in ("granian", "litestar", "msgspec", "structlog"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[package] = importlib.metadata.version(package)
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loop": "granian auto (uvloop installed)"
        if importlib.util.find_spec("uvloop")
        else "granian auto (asyncio; uvloop not installed)",
        "load_average": os.getloadavg(),
        "packages": versions,
        "unix_time": time.time(),
    }
