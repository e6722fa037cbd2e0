"""What the benchmarks share: options, load generators, alternating rounds, reporting.

A ``Comparison`` loads two ``Target``s (a server and a path) alternately with the same
generator, connections and time, and reports the median requests/second of the
subject over that of the reference, plus the server CPU time per request of each.
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
import time
from collections.abc import Mapping
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
from bench.servers import Server

BUSY_WARNING = 0.15  # share of the CPUs others may use before the figures are called noisy
RESULTS_DIR = Path(__file__).with_name("results")
DATABASES = ("sqlite", "postgres")
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432"


@dataclass(frozen=True)
class Options:
    """What to run; the defaults take about 40 s per benchmark leg and generator."""

    seconds: int = 5
    rounds: int = 3
    warmup: int = 2
    connections: int = 32
    generator: str = "auto"  # auto | wrk | python | both
    parallelism: int | None = None  # wrk threads / client processes
    install_wrk: bool = False
    min_ratio: float | None = None  # health_live
    min_me_ratio: float | None = None  # me_vs_live, every database leg
    databases: tuple[str, ...] = DATABASES  # me_vs_live legs
    postgres_url: str = DEFAULT_POSTGRES_URL  # server for the PostgreSQL leg's database
    results_dir: Path = RESULTS_DIR

    def as_dict(self) -> dict[str, Any]:
        return {
            "seconds": self.seconds,
            "rounds": self.rounds,
            "warmup": self.warmup,
            "connections": self.connections,
            "generator": self.generator,
        }


@dataclass(frozen=True)
class Target:
    """What one side of a comparison loads: ``GET path`` on ``server`` with ``headers``."""

    name: str
    server: Server
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)


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
    """One generator's rounds against the subject and the reference."""

    generator: str
    subject: list[Sample] = field(default_factory=list)
    reference: list[Sample] = field(default_factory=list)

    @property
    def subject_rps(self) -> float:
        return statistics.median(s.rps for s in self.subject)

    @property
    def reference_rps(self) -> float:
        return statistics.median(s.rps for s in self.reference)

    @property
    def ratio(self) -> float:
        """The headline: median subject req/s over median reference req/s."""
        return self.subject_rps / self.reference_rps if self.reference_rps else 0.0

    @property
    def round_ratios(self) -> list[float]:
        pairs = zip(self.subject, self.reference, strict=True)
        return [s.rps / r.rps if r.rps else 0.0 for s, r in pairs]

    @property
    def subject_cpu_us(self) -> float | None:
        return _median_or_none([s.cpu_us for s in self.subject])

    @property
    def reference_cpu_us(self) -> float | None:
        return _median_or_none([s.cpu_us for s in self.reference])

    @property
    def cpu_ratio(self) -> float | None:
        """Reference over subject server CPU per request: the ratio at equal CPU, which
        other load on the machine disturbs far less than req/s."""
        if self.subject_cpu_us is None or self.reference_cpu_us is None:
            return None
        return self.reference_cpu_us / self.subject_cpu_us

    @property
    def failures(self) -> int:
        return sum(s.load.errors + s.load.bad_status for s in [*self.subject, *self.reference])


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


def measure(generator: LoadGenerator, target: Target, connections: int, seconds: int) -> Sample:
    """Load ``target`` once; the server's and the generator's CPU time meanwhile."""
    server = target.server
    before, client_before = server.cpu_seconds(), children_cpu_seconds()
    load = generator.run(server.port, target.path, connections, seconds, target.headers)
    after, client_after = server.cpu_seconds(), children_cpu_seconds()
    cpu = after - before if after is not None and before is not None else None
    return Sample(load, cpu, client_after - client_before)


def compare(
    generator: LoadGenerator, subject: Target, reference: Target, options: Options, goal: float
) -> Comparison:
    """Warm both targets up, then measure them alternately for ``options.rounds``."""
    result = Comparison(generator.name)
    print(f"\n== generator: {generator.name}", flush=True)
    if options.warmup > 0:
        for target in (subject, reference):
            measure(generator, target, options.connections, options.warmup)
    for index in range(options.rounds):
        order = (subject, reference) if index % 2 == 0 else (reference, subject)
        for target in order:
            sample = measure(generator, target, options.connections, options.seconds)
            (result.subject if target is subject else result.reference).append(sample)
            print(f"  round {index + 1}  {target.name:<4}  {describe(sample)}", flush=True)
    for name, rps, cpu_us in (
        (subject.name, result.subject_rps, result.subject_cpu_us),
        (reference.name, result.reference_rps, result.reference_cpu_us),
    ):
        cpu_text = f", {cpu_us:.1f} server CPU us/request" if cpu_us is not None else ""
        print(f"  {name:<4}  {rps:>10,.0f} req/s{cpu_text} (medians)")
    spread = ", ".join(f"{r:.3f}" for r in result.round_ratios)
    verdict = "met" if result.ratio >= goal else "NOT met"
    print(f"  ratio {result.ratio:.3f}  (per round: {spread}; goal >= {goal}: {verdict})")
    if result.cpu_ratio is not None:
        print(f"  CPU-per-request ratio ({reference.name}/{subject.name}) {result.cpu_ratio:.3f}")
    if result.failures:
        print(f"  WARNING: {result.failures} errors or >= 400 responses: figures are suspect")
    return result


def comparison_dict(comparison: Comparison, subject: str, reference: str) -> dict[str, Any]:
    """A comparison for the results file, its keys named after the two sides."""
    c = comparison
    return {
        "generator": c.generator,
        "ratio": c.ratio,
        "round_ratios": c.round_ratios,
        f"{subject}_median_rps": c.subject_rps,
        f"{reference}_median_rps": c.reference_rps,
        "cpu_ratio": c.cpu_ratio,
        f"{subject}_median_cpu_us_per_request": c.subject_cpu_us,
        f"{reference}_median_cpu_us_per_request": c.reference_cpu_us,
        f"{subject}_rounds": [sample.as_dict() for sample in c.subject],
        f"{reference}_rounds": [sample.as_dict() for sample in c.reference],
    }


def children_cpu_seconds() -> float:
    """CPU time of the finished child processes: the load generator's runs."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def describe(sample: Sample) -> str:
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


def warn_if_busy() -> float | None:
    """``machine_busy()``, with a warning when it is above ``BUSY_WARNING``."""
    busy = machine_busy()
    if busy is not None and busy > BUSY_WARNING:
        print(
            f"warning: other processes kept {busy:.0%} of the CPUs busy just before the run; "
            "the figures will be noisy",
            flush=True,
        )
    return busy


def tail(log: Path, lines: int = 20) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def print_logs(folder: Path) -> None:
    """The last lines of every log in ``folder``: why a server or a command failed."""
    for log in sorted(folder.glob("*.log")):
        print(f"--- {log.name} (last lines)\n{tail(log)}")


def write_results(results_dir: Path, name: str, document: dict[str, Any]) -> Path:
    """``results_dir/<name>-<UTC time>.json``, stamped with the time and environment."""
    now = dt.datetime.now(dt.UTC)
    document = {
        "benchmark": name,
        "timestamp": now.isoformat(timespec="seconds"),
        **document,
    }
    document["environment"] = {**environment(), **document.get("environment", {})}
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{name}-{now:%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def environment() -> dict[str, Any]:
    versions = {}
    for package in ("granian", "litestar", "msgspec", "structlog", "sqlalchemy", "asyncpg"):
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
