"""``GET /health/live`` through the app's full stack, as a ratio to bare Litestar.

Both apps are served by granian the same way (``bench.serve``), started together, then
loaded alternately with the same generator for the same time; the ratio is the median
requests/second of the full app over the median of the bare one.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from pathlib import Path

from bench.common import (
    Comparison,
    Options,
    Target,
    compare,
    comparison_dict,
    generators,
    print_logs,
    warn_if_busy,
    write_results,
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


def run(options: Options) -> int:
    """Run the benchmark; 0, or 1 below ``min_ratio``, or 2 when it cannot run."""
    chosen = generators(options)
    if not chosen:
        return 2
    print(
        f"ninefold bench health_live: GET {PATH}, full stack ({FULL_TARGET}) vs bare "
        f"Litestar ({BARE_TARGET})\ngranian ASGI, 1 worker, default loop; "
        f"{options.connections} keep-alive connections; {options.rounds} rounds x "
        f"{options.seconds} s per server after {options.warmup} s warm-up\nfull app: "
        "NINEFOLD_ENV=development, NINEFOLD_RUN_WORKER=false (HTTP only), fresh SQLite data "
        "dir, migrated",
        flush=True,
    )
    busy = warn_if_busy()
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
                print_logs(work)
                return 2
            if "x-request-id" not in headers["full"]:
                print("warning: the full app's answer has no x-request-id: is the stack in place?")
            targets = Target("full", full, PATH), Target("bare", bare, PATH)
            try:
                comparisons = [compare(g, *targets, options, GOAL) for g in chosen]
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


def _write_results(
    options: Options,
    comparisons: list[Comparison],
    headers: dict[str, dict[str, str]],
    busy: float | None,
) -> Path:
    return write_results(
        options.results_dir,
        "health_live",
        {
            "path": PATH,
            "goal_ratio": GOAL,
            "ratio": comparisons[0].ratio,
            "goal_met": comparisons[0].ratio >= GOAL,
            "options": options.as_dict(),
            "environment": {"cpu_busy_before_run": busy},
            "response_headers": headers,
            "comparisons": [comparison_dict(c, "full", "bare") for c in comparisons],
        },
    )
