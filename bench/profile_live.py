"""Where the full stack's time goes on ``GET /health/live``, without a server.

``python -m bench.profile_live [--requests N] [--profile]`` calls each ASGI app directly
with a granian-like scope and a no-op ``send`` and prints microseconds per request for:
the bare Litestar app, the bare app inside the app's ``RequestContext``, the full app
without ``RequestContext`` and the full app, plus the bare app calling ``os.urandom(16)``
per request. Each is measured twice: alone, and with a thread that wakes every 20 us
and so wants the GIL, as granian's Rust threads do when they hand requests to Python;
code that releases the GIL (a syscall such as ``os.urandom``, which ``uuid.uuid4`` calls)
pays for a GIL hand-off there. ``--profile`` adds a cProfile of the full app.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import cProfile
import io
import os
import pstats
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from litestar.types import ASGIApp, HTTPRequestEvent, Message, Receive, Scope, Send

from bench.servers import HOST, PATH, app_environment


def _scope() -> dict[str, Any]:
    """What granian passes for ``GET /health/live`` from a plain HTTP/1.1 client."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": (HOST, 8000),
        "client": (HOST, 50000),
        "scheme": "http",
        "method": "GET",
        "root_path": "",
        "path": PATH,
        "raw_path": PATH.encode(),
        "query_string": b"",
        "headers": [(b"host", f"{HOST}:8000".encode())],
        "extensions": {},
        "state": {},
    }


async def _receive() -> HTTPRequestEvent:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: Message) -> None:
    return None


async def _run(app: ASGIApp, requests: int) -> float:
    """Seconds for ``requests`` sequential requests."""
    started = time.perf_counter()
    for _ in range(requests):
        await app(_scope(), _receive, _send)  # type: ignore[arg-type]
    return time.perf_counter() - started


async def _check(app: ASGIApp) -> None:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await app(_scope(), _receive, send)  # type: ignore[arg-type]
    if not sent or sent[0].get("status") != 200:
        raise RuntimeError(f"unexpected answer: {sent[:1]}")


class _UrandomPerRequest:
    """Calls ``os.urandom(16)``, as ``uuid.uuid4()`` does, before each request: shows
    what one GIL-releasing syscall per request costs."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        os.urandom(16)
        await self._app(scope, receive, send)


@contextlib.contextmanager
def _gil_contender(enabled: bool) -> Iterator[None]:
    """A thread that keeps asking for the GIL, like a server's I/O threads."""
    stop = threading.Event()

    def poke() -> None:
        while not stop.is_set():
            time.sleep(0.00002)

    thread = threading.Thread(target=poke, daemon=True)
    if enabled:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        if enabled:
            thread.join()


def _apps() -> dict[str, ASGIApp]:
    """The four variants. The app's outermost layer is taken from the built app (its
    ``_app`` is what it wraps), so its constructor arguments stay the app's business."""
    from bench.baseline import create as create_bare
    from entrypoints.http.asgi import create as create_full

    full = create_full()
    context = full.asgi_handler
    unwrapped = create_full()
    unwrapped.asgi_handler = unwrapped.asgi_handler._app  # type: ignore[attr-defined]
    wrapped = create_bare()
    layer = copy.copy(context)
    layer._app = wrapped.asgi_handler  # type: ignore[attr-defined]
    wrapped.asgi_handler = layer
    urandom = create_bare()
    urandom.asgi_handler = _UrandomPerRequest(urandom.asgi_handler)
    return {
        "bare Litestar": create_bare(),
        "bare + os.urandom(16)": urandom,
        f"bare + {type(context).__name__}": wrapped,
        f"full without {type(context).__name__}": unwrapped,
        "full": full,
    }


async def _measure_apps(apps: dict[str, ASGIApp], requests: int, repeats: int) -> None:
    for contended in (False, True):
        best: dict[str, float] = {}
        with _gil_contender(contended):
            for _ in range(repeats):  # interleaved, the best of each
                for name, app in apps.items():
                    seconds = await _run(app, requests)
                    best[name] = min(best.get(name, seconds), seconds)
        label = "with a GIL-contending thread" if contended else "alone"
        print(f"\nASGI cost of GET {PATH}, {label} ({requests} requests, best of {repeats}):")
        base = best["bare Litestar"]
        for name, seconds in best.items():
            micros = seconds / requests * 1e6
            extra = (seconds - base) / requests * 1e6
            print(f"  {name:<28} {micros:7.1f} us/request  (+{extra:5.1f} us)")


async def _main(requests: int, repeats: int, profile: bool) -> None:
    apps = _apps()
    for app in apps.values():
        await _check(app)
        await _run(app, min(requests, 2000))  # warm-up
    await _measure_apps(apps, requests, repeats)
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        await _run(apps["full"], requests)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
        print(f"\ncProfile of the full app, {requests} requests:\n{out.getvalue()}")


def main(argv: Sequence[str] | None = None) -> int:
    """Build the apps with the benchmark's settings and print the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.profile_live")
    parser.add_argument("--requests", type=int, default=10000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="cProfile the full app")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ninefold-profile-") as tmp:
        os.environ.update(app_environment(Path(tmp) / "data", port=8000))
        asyncio.run(_main(args.requests, args.repeats, args.profile))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
