"""An authenticated ``GET /api/v1/me`` (cookie session) as a ratio to ``GET /health/live``.

One full-app server per database leg (SQLite, PostgreSQL), served as in ``health_live``;
a demo user is seeded and signed in with ``transport: cookie``, then both paths of the
same server are loaded alternately with the same generator, connections, time and
headers (the session cookie goes with both: the requests differ only in their path).
The ratio is the median requests/second of ``/me`` over that of ``/health/live``.

A session records its use (a write) at most every 5 minutes, on the first request after
that; the session is opened just before the rounds, so a run shorter than that measures
the read path only: one ``SELECT`` (session joined with its user) per request. The run
checks it afterwards: the session's ``last_seen_at`` must still be its sign-in time.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
from bench.loadgen import LoadGenerator
from bench.postgres import PostgresUnavailableError, fresh_database, masked
from bench.servers import (
    FULL_TARGET,
    PATH,
    Server,
    ServerError,
    app_environment,
    free_port,
    migrate,
    request,
    seed_demo,
)

GOAL = 0.5
ME_PATH = "/api/v1/me"
SIGN_IN_PATH = "/api/v1/auth/sign-in"
SESSIONS_PATH = "/api/v1/me/sessions"
SESSION_COOKIE = "nf_session"  # entrypoints.http.auth.SESSION_COOKIE
TOUCH_NOTE = (
    "sessions record use (a write) at most every 5 minutes: the session is opened just "
    "before the rounds, so /me measures the read path (one SELECT per request, no write)"
)


@dataclass
class Leg:
    """One database's outcome: measured, skipped or failed."""

    database: str
    database_url: str = ""  # masked
    comparisons: list[Comparison] = field(default_factory=list)
    skipped: str | None = None
    error: str | None = None
    me_headers: dict[str, str] = field(default_factory=dict)
    session_touched: bool | None = None  # None: not checked

    def as_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {"database": self.database, "database_url": self.database_url}
        if self.skipped or self.error:
            return {**document, "skipped": self.skipped, "error": self.error}
        headline = self.comparisons[0]
        return {
            **document,
            "ratio": headline.ratio,
            "goal_met": headline.ratio >= GOAL,
            "me_median_rps": headline.subject_rps,
            "live_median_rps": headline.reference_rps,
            "session_touched_during_run": self.session_touched,
            "me_response_headers": self.me_headers,
            "comparisons": [comparison_dict(c, "me", "live") for c in self.comparisons],
        }


def sign_in(port: int, email: str, password: str) -> str:
    """``POST /api/v1/auth/sign-in`` with ``transport: cookie``: the session token from
    the ``nf_session`` cookie. Failures are throttled after 5, successes are not."""
    body = json.dumps({"email": email, "password": password, "transport": "cookie"})
    answer = request(
        port,
        "POST",
        SIGN_IN_PATH,
        body=body.encode(),
        headers={"Content-Type": "application/json"},
    )
    if answer.status != 200:
        raise ServerError(f"sign-in answered {answer.status}: {answer.body[:200]!r}")
    for cookie in answer.header_values("set-cookie"):
        name, _, rest = cookie.partition("=")
        if name.strip() == SESSION_COOKIE:
            return rest.split(";", 1)[0]
    raise ServerError(f"sign-in set no {SESSION_COOKIE} cookie (two-factor on?)")


def check_me(port: int, headers: dict[str, str], email: str) -> dict[str, str]:
    """``/me`` answers 200 with the demo user for the cookie and 401 without it (so the
    load exercises authentication); its response headers."""
    answer = request(port, "GET", ME_PATH, headers=headers)
    if answer.status != 200 or json.loads(answer.body).get("email") != email:
        raise ServerError(f"GET {ME_PATH} answered {answer.status}: {answer.body[:200]!r}")
    anonymous = request(port, "GET", ME_PATH)
    if anonymous.status != 401:
        raise ServerError(f"GET {ME_PATH} without the cookie answered {anonymous.status}")
    return dict(answer.headers)


def session_touched(port: int, headers: dict[str, str]) -> bool:
    """Whether the current session's ``last_seen_at`` moved since sign-in (a write)."""
    answer = request(port, "GET", SESSIONS_PATH, headers=headers)
    if answer.status != 200:
        raise ServerError(f"GET {SESSIONS_PATH} answered {answer.status}")
    current = next(s for s in json.loads(answer.body) if s.get("current"))
    return bool(current["last_seen_at"] != current["created_at"])


def run_leg(database: str, chosen: list[LoadGenerator], options: Options) -> Leg:
    """Serve the app on ``database``, sign in, compare ``/me`` with ``/health/live``."""
    leg = Leg(database)
    print(f"\n==== database: {database}", flush=True)
    with (
        tempfile.TemporaryDirectory(prefix="ninefold-bench-me-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        work = Path(tmp)
        port = free_port()
        env = app_environment(work / "data", port)
        if database == "postgres":
            try:
                url = stack.enter_context(fresh_database(options.postgres_url))
            except PostgresUnavailableError as exc:
                leg.skipped = f"PostgreSQL at {masked(options.postgres_url)} unavailable: {exc}"
                print(f"  SKIPPED: {leg.skipped}", flush=True)
                return leg
            env["NINEFOLD_DATABASE_URL"] = url
            leg.database_url = masked(url)
            print(f"  fresh database {leg.database_url} (dropped at the end)", flush=True)
        else:
            leg.database_url = f"sqlite (fresh {work / 'data'})"
        server = Server("full", FULL_TARGET, port, env, work / "full.log")
        try:
            migrate(env, work / "migrate.log")
            email, password = seed_demo(env, work / "seed.log")
            stack.callback(server.stop)  # before the database's drop: LIFO
            server.start()
            server.wait_ready()
            headers = {"Cookie": f"{SESSION_COOKIE}={sign_in(port, email, password)}"}
            leg.me_headers = check_me(port, headers, email)
        except ServerError as exc:
            leg.error = str(exc)
            print(f"error: {exc}")
            print_logs(work)
            return leg
        print(f"  signed in as {email}: the cookie goes with every request", flush=True)
        me = Target("me", server, ME_PATH, headers)
        live = Target("live", server, PATH, headers)
        try:
            leg.comparisons = [compare(g, me, live, options, GOAL) for g in chosen]
            leg.session_touched = session_touched(port, headers)
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            leg.error = f"{type(exc).__name__}: {exc}"
            print(f"error while measuring: {leg.error}")
            return leg
        if leg.session_touched:
            print("  note: the session recorded its use during the run (one write)")
    return leg


def run(options: Options) -> int:
    """Every database leg; 0, or 1 below ``min_me_ratio``, or 2 when a leg could not run
    (a skipped PostgreSQL leg is not a failure)."""
    chosen = generators(options)
    if not chosen:
        return 2
    print(
        f"\nninefold bench me_vs_live: GET {ME_PATH} (cookie session) vs GET {PATH} on the "
        f"same full-stack server ({FULL_TARGET}); databases: {', '.join(options.databases)}"
        f"\ngranian ASGI, 1 worker, default loop; {options.connections} keep-alive "
        f"connections; {options.rounds} rounds x {options.seconds} s per path after "
        f"{options.warmup} s warm-up; NINEFOLD_ENV=development, NINEFOLD_RUN_WORKER=false, "
        f"fresh data dir and database, migrated, seed-demo\n{TOUCH_NOTE}",
        flush=True,
    )
    busy = warn_if_busy()
    legs = [run_leg(database, chosen, options) for database in options.databases]
    path = write_results(
        options.results_dir,
        "me_vs_live",
        {
            "paths": {"subject": ME_PATH, "reference": PATH},
            "goal_ratio": GOAL,
            "note": TOUCH_NOTE,
            "options": {**options.as_dict(), "databases": list(options.databases)},
            "environment": {"cpu_busy_before_run": busy},
            "legs": [leg.as_dict() for leg in legs],
        },
    )
    print()
    status = 0
    for leg in legs:
        if leg.skipped:
            print(f"result {leg.database}: skipped ({leg.skipped})")
            continue
        if leg.error:
            print(f"result {leg.database}: FAILED ({leg.error})")
            status = 2
            continue
        c = leg.comparisons[0]
        verdict = "met" if c.ratio >= GOAL else "NOT met"
        print(
            f"result {leg.database}: /me {c.subject_rps:,.0f} req/s, /health/live "
            f"{c.reference_rps:,.0f} req/s, ratio {c.ratio:.3f} with {c.generator} "
            f"(goal >= {GOAL}: {verdict})"
        )
        if options.min_me_ratio is not None and c.ratio < options.min_me_ratio and not status:
            print(f"  below --min-me-ratio {options.min_me_ratio}")
            status = 1
    print(f"written to {path}")
    return status
