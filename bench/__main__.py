"""``python -m bench`` (``make bench``): run the benchmarks and print the ratios.

``python -m bench`` runs everything: ``health_live``, then ``me`` on SQLite and on
PostgreSQL, then ``jobs``, then ``usage``, then ``flags``. ``python -m bench health_live``
or ``python -m bench me --db sqlite`` run one.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from bench import flags, health_live, jobs, me_vs_live, usage
from bench.common import DATABASES, DEFAULT_POSTGRES_URL, RESULTS_DIR, Options

BENCHMARKS = ("all", "health_live", "me", "jobs", "usage", "flags")


def parse(argv: Sequence[str] | None = None) -> tuple[str, Options]:
    """The command line: which benchmark, and the ``Options``."""
    defaults = Options()
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=(
            "health_live: requests/second of GET /health/live through the full app stack as "
            f"a ratio to a bare Litestar handler served the same way (goal >= "
            f"{health_live.GOAL}). me: requests/second of an authenticated GET /api/v1/me "
            f"(cookie session) as a ratio to GET /health/live on the same server, per "
            f"database (goal >= {me_vs_live.GOAL}). jobs: no-op jobs enqueued and completed "
            f"per second by our SQL engine on PostgreSQL as a ratio to SAQ's own worker on the "
            f"same PostgreSQL (goal >= {jobs.GOAL}); --rounds applies, --postgres-url too. "
            f"usage: usage events/s through the batch endpoint as a ratio to a plain bulk "
            f"insert of the same rows, per database (goal >= {usage.GOAL_RATIO}, and >= "
            f"{usage.GOAL_POSTGRES_RATE:,} events/s on PostgreSQL); --rounds and --db apply. "
            f"flags: in-process evaluations/s of one flag (a constraint and a 50% rollout) "
            f"as a ratio to UnleashClient.is_enabled (goal >= {flags.GOAL_UNLEASH:g}) and to "
            f"Flagsmith's local evaluation (goal >= {flags.GOAL_FLAGSMITH:g}); --rounds applies."
        ),
    )
    parser.add_argument(
        "benchmark", nargs="?", choices=BENCHMARKS, default="all", help="default: all"
    )
    parser.add_argument("--seconds", type=int, default=defaults.seconds, help="per round")
    parser.add_argument("--rounds", type=int, default=defaults.rounds)
    parser.add_argument("--warmup", type=int, default=defaults.warmup, help="seconds per target")
    parser.add_argument("--connections", type=int, default=defaults.connections)
    parser.add_argument(
        "--generator",
        choices=("auto", "wrk", "python", "both"),
        default=defaults.generator,
        help="auto: wrk when installed, else the Python client",
    )
    parser.add_argument(
        "--parallelism", type=int, help="wrk threads / Python client processes (default: CPUs/2)"
    )
    parser.add_argument(
        "--install-wrk", action="store_true", help="apt-get install wrk when missing (root)"
    )
    parser.add_argument(
        "--db",
        choices=(*DATABASES, "both"),
        default="both",
        help="me, usage: the database legs (default: both; skipped when unreachable)",
    )
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        help="me: the server that gets a throwaway database (default: %(default)s)",
    )
    parser.add_argument(
        "--min-ratio", type=float, help="health_live: exit 1 when the ratio is below this"
    )
    parser.add_argument(
        "--min-me-ratio", type=float, help="me: exit 1 when a leg's ratio is below this"
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    if min(args.seconds, args.rounds, args.connections) < 1 or args.warmup < 0:
        parser.error("--seconds, --rounds and --connections must be >= 1, --warmup >= 0")
    return args.benchmark, Options(
        seconds=args.seconds,
        rounds=args.rounds,
        warmup=args.warmup,
        connections=args.connections,
        generator=args.generator,
        parallelism=args.parallelism,
        install_wrk=args.install_wrk,
        min_ratio=args.min_ratio,
        min_me_ratio=args.min_me_ratio,
        databases=DATABASES if args.db == "both" else (args.db,),
        postgres_url=args.postgres_url,
        results_dir=args.results_dir,
    )


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the servers' and databases' clean-up


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen benchmarks; the worst exit code (2 could not run > 1 below > 0)."""
    benchmark, options = parse(argv)
    signal.signal(signal.SIGTERM, _terminate)
    runs = {
        "health_live": health_live.run,
        "me": me_vs_live.run,
        "jobs": jobs.run,
        "usage": usage.run,
        "flags": flags.run,
    }
    chosen = list(runs) if benchmark == "all" else [benchmark]
    try:
        return max(runs[name](options) for name in chosen)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
