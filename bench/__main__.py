"""``python -m bench`` (``make bench``): run the benchmarks and print the ratios."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from bench.health_live import GOAL, RESULTS_DIR, Options, run


def parse(argv: Sequence[str] | None = None) -> Options:
    """The command line as ``Options``."""
    defaults = Options()
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=(
            "Requests/second of GET /health/live through the full app stack as a ratio to a "
            f"bare Litestar handler served the same way (goal >= {GOAL})."
        ),
    )
    parser.add_argument("--seconds", type=int, default=defaults.seconds, help="per round")
    parser.add_argument("--rounds", type=int, default=defaults.rounds)
    parser.add_argument("--warmup", type=int, default=defaults.warmup, help="seconds per server")
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
    parser.add_argument("--min-ratio", type=float, help="exit 1 when the ratio is below this")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    if min(args.seconds, args.rounds, args.connections) < 1 or args.warmup < 0:
        parser.error("--seconds, --rounds and --connections must be >= 1, --warmup >= 0")
    return Options(
        seconds=args.seconds,
        rounds=args.rounds,
        warmup=args.warmup,
        connections=args.connections,
        generator=args.generator,
        parallelism=args.parallelism,
        install_wrk=args.install_wrk,
        min_ratio=args.min_ratio,
        results_dir=args.results_dir,
    )


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the servers' clean-up


def main(argv: Sequence[str] | None = None) -> int:
    options = parse(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return run(options)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
