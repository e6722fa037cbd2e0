"""Where the time goes on an authenticated ``GET /api/v1/me``, without a server.

``python -m bench.profile_me [--db sqlite|postgres] [--requests N] [--concurrency C]
[--profile]`` migrates a fresh database, seeds the demo user, signs in through the app
(``transport: cookie``) and then calls the ASGI app directly with the session cookie,
``C`` requests at a time on one event loop (as granian's single worker would), printing
microseconds per request for ``/api/v1/me`` and ``/health/live`` and the share of
``/me``'s time spent in ``authenticate`` alone (the session lookup). ``--profile`` adds
a cProfile of the ``/me`` requests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import os
import pstats
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from litestar.types import ASGIApp, HTTPRequestEvent, Message

from bench.me_vs_live import ME_PATH, SESSION_COOKIE, SIGN_IN_PATH
from bench.postgres import fresh_database
from bench.servers import HOST, PATH, app_environment, migrate, seed_demo


def _scope(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": (HOST, 8000),
        "client": (HOST, 50000),
        "scheme": "http",
        "method": method,
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", f"{HOST}:8000".encode()), *headers],
        "extensions": {},
        "state": {},
    }


async def _call(
    app: ASGIApp, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes = b""
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    sent: list[Message] = []

    async def receive() -> HTTPRequestEvent:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(_scope(method, path, headers), receive, send)  # type: ignore[arg-type]
    start = sent[0]
    content = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], list(start.get("headers", [])), content


async def _sign_in(app: ASGIApp, email: str, password: str) -> bytes:
    body = json.dumps({"email": email, "password": password, "transport": "cookie"}).encode()
    status, headers, content = await _call(
        app, "POST", SIGN_IN_PATH, [(b"content-type", b"application/json")], body
    )
    if status != 200:
        raise RuntimeError(f"sign-in answered {status}: {content[:200]!r}")
    for name, value in headers:
        if name.lower() == b"set-cookie" and value.startswith(f"{SESSION_COOKIE}=".encode()):
            return value.split(b";", 1)[0]
    raise RuntimeError("no session cookie")


async def _load(
    app: ASGIApp, path: str, headers: list[tuple[bytes, bytes]], requests: int, concurrency: int
) -> float:
    """Seconds for ``requests`` requests, ``concurrency`` in flight on this loop."""
    per_task = requests // concurrency

    async def worker() -> None:
        for _ in range(per_task):
            status, _, body = await _call(app, "GET", path, headers)
            if status != 200:
                raise RuntimeError(f"GET {path} answered {status}: {body[:200]!r}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


async def _authenticate_only(app: Any, headers: list[tuple[bytes, bytes]], requests: int) -> float:
    """Seconds for ``requests`` calls of ``authenticate`` on fresh requests."""
    from litestar import Request

    from entrypoints.http.auth import authenticate

    started = time.perf_counter()
    for _ in range(requests):
        scope = _scope("GET", ME_PATH, headers)
        scope["litestar_app"] = app
        if await authenticate(Request(scope)) is None:  # type: ignore[arg-type]
            raise RuntimeError("not authenticated")
    return time.perf_counter() - started


async def _main(email: str, password: str, args: argparse.Namespace) -> None:
    from entrypoints.containers import close_container
    from entrypoints.http.asgi import create

    app = create()
    cookie = await _sign_in(app, email, password)
    headers = [(b"cookie", cookie)]
    for path in (ME_PATH, PATH):  # warm-up: pools, statement caches
        await _load(app, path, headers, 500, args.concurrency)
    print(
        f"\nASGI cost per request, {args.requests} requests, {args.concurrency} in flight, "
        f"best of {args.repeats} ({args.db}):"
    )
    best: dict[str, float] = {}
    for _ in range(args.repeats):
        for path in (ME_PATH, PATH):
            seconds = await _load(app, path, headers, args.requests, args.concurrency)
            best[path] = min(best.get(path, seconds), seconds)
        seconds = await _authenticate_only(app, headers, args.requests)
        best["authenticate()"] = min(best.get("authenticate()", seconds), seconds)
    for name, seconds in best.items():
        print(f"  {name:<16} {seconds / args.requests * 1e6:8.1f} us/request")
    share = best["authenticate()"] / best[ME_PATH]
    print(f"  authenticate() alone (one at a time): {share:.0%} of the /me figure")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        await _load(app, ME_PATH, headers, args.requests, args.concurrency)
        profiler.disable()
        for key in ("tottime", "cumulative"):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(key).print_stats(args.top)
            print(f"\ncProfile of {ME_PATH}, {args.requests} requests, by {key}:\n{out.getvalue()}")
    await close_container(app.state.container)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_me")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--top", type=int, default=30, help="cProfile lines")
    parser.add_argument("--profile", action="store_true", help="cProfile the /me requests")
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="ninefold-profile-me-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        work = Path(tmp)
        env = app_environment(work / "data", port=8000)
        if args.db == "postgres":
            env["NINEFOLD_DATABASE_URL"] = stack.enter_context(fresh_database(args.postgres_url))
        migrate(env, work / "migrate.log")
        email, password = seed_demo(env, work / "seed.log")
        for name in [n for n in os.environ if n.startswith("NINEFOLD_")]:
            del os.environ[name]
        os.environ.update(env)
        asyncio.run(_main(email, password, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
