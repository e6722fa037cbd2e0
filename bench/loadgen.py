"""Load generators: ``wrk`` when installed, else a multi-process Python client.

Both keep a fixed number of HTTP/1.1 keep-alive connections busy for a fixed time, one
request in flight per connection (no pipelining), and report the completed requests.
Extra request headers (a session cookie) are sent on every request.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import queue
import selectors
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any, Protocol

HOST = "127.0.0.1"
WRK_SCRIPT = Path(__file__).with_name("wrk_report.lua")


@dataclass(frozen=True)
class Load:
    """The outcome of one measurement."""

    requests: int
    seconds: float
    errors: int  # connect/read/write errors and timeouts
    bad_status: int  # responses with status >= 400
    p50_ms: float | None = None
    p99_ms: float | None = None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


class LoadGenerator(Protocol):
    """Drives ``GET path`` on ``HOST:port`` for ``seconds`` over ``connections``, with
    ``headers`` added to every request."""

    name: str

    def run(
        self,
        port: int,
        path: str,
        connections: int,
        seconds: int,
        headers: Mapping[str, str] | None = None,
    ) -> Load: ...


def _header_lines(headers: Mapping[str, str] | None) -> list[str]:
    """``Name: value`` lines, refusing anything that would split the request."""
    lines = []
    for name, value in (headers or {}).items():
        if any(c in f"{name}{value}" for c in "\r\n") or ":" in name:
            raise ValueError(f"invalid header {name!r}")
        lines.append(f"{name}: {value}")
    return lines


def default_parallelism() -> int:
    """Half the CPUs: the server under test needs the rest."""
    return max(1, (os.cpu_count() or 2) // 2)


def find_wrk() -> str | None:
    return shutil.which("wrk")


def install_wrk() -> str | None:
    """``apt-get install wrk`` when running as root on Debian/Ubuntu; the path or None."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
        try:
            subprocess.run(command, env=env, check=True, capture_output=True, timeout=300)
        except (OSError, subprocess.SubprocessError):
            return None
    return find_wrk()


class WrkGenerator:
    """``wrk`` with a Lua ``done`` hook that prints the summary as JSON."""

    def __init__(self, executable: str, threads: int | None = None) -> None:
        self.executable = executable
        self.threads = threads or default_parallelism()
        self.name = f"wrk ({self.threads} thread{'s' if self.threads > 1 else ''})"

    def run(
        self,
        port: int,
        path: str,
        connections: int,
        seconds: int,
        headers: Mapping[str, str] | None = None,
    ) -> Load:
        command = [
            self.executable,
            f"-t{min(self.threads, connections)}",
            f"-c{connections}",
            f"-d{seconds}s",
            "-s",
            str(WRK_SCRIPT),
            *(f"-H{line}" for line in _header_lines(headers)),
            f"http://{HOST}:{port}{path}",
        ]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=seconds + 30, check=False
        )
        for line in done.stdout.splitlines():
            if line.startswith("BENCH_JSON "):
                data = json.loads(line.removeprefix("BENCH_JSON "))
                return Load(
                    requests=data["requests"],
                    seconds=data["duration_us"] / 1e6,
                    errors=data["errors"],
                    bad_status=data["bad_status"],
                    p50_ms=data["p50_us"] / 1000,
                    p99_ms=data["p99_us"] / 1000,
                )
        raise RuntimeError(f"wrk gave no summary (exit {done.returncode}): {done.stderr.strip()}")


class PythonGenerator:
    """Processes each driving their share of the connections with ``epoll`` and raw
    sockets: a request is written as soon as the previous response is complete."""

    def __init__(self, processes: int | None = None) -> None:
        self.processes = processes or default_parallelism()
        plural = "es" if self.processes > 1 else ""
        self.name = f"python epoll client ({self.processes} process{plural})"

    def run(
        self,
        port: int,
        path: str,
        connections: int,
        seconds: int,
        headers: Mapping[str, str] | None = None,
    ) -> Load:
        lines = tuple(_header_lines(headers))
        processes = min(self.processes, connections)
        shares = [
            connections // processes + (i < connections % processes) for i in range(processes)
        ]
        ctx = multiprocessing.get_context("spawn")
        barrier = ctx.Barrier(processes + 1)
        results = ctx.Queue()
        workers = [
            ctx.Process(target=_drive, args=(port, path, lines, share, seconds, barrier, results))
            for share in shares
        ]
        for worker in workers:
            worker.start()
        try:
            with contextlib.suppress(threading.BrokenBarrierError):  # a worker's text says why
                barrier.wait(timeout=30)  # every connection open: start together
            outcomes = _collect(workers, results, time.monotonic() + seconds + 30)
        except BaseException:  # Ctrl-C, SIGTERM: do not wait for the clients to finish
            for worker in workers:
                worker.kill()
            raise
        finally:
            for worker in workers:
                worker.join(timeout=5)
                if worker.is_alive():
                    worker.kill()
        failures = [o for o in outcomes if isinstance(o, str)]
        if failures:
            raise RuntimeError("python load generator failed: " + "; ".join(failures))
        counts: list[tuple[int, int, int, float]] = outcomes
        return Load(
            requests=sum(c[0] for c in counts),
            seconds=max(c[3] for c in counts),
            errors=sum(c[2] for c in counts),
            bad_status=sum(c[1] for c in counts),
        )


def _collect(workers: list[Any], results: Any, deadline: float) -> list[Any]:
    """One outcome per worker; an error text for workers that died without one."""
    outcomes: list[Any] = []
    while len(outcomes) < len(workers):
        try:
            outcomes.append(results.get(timeout=0.5))
        except queue.Empty:
            if time.monotonic() > deadline:
                return [*outcomes, "no result before the deadline"]
            if all(worker.exitcode is not None for worker in workers):
                with contextlib.suppress(queue.Empty):  # a last result may be in flight
                    outcomes.append(results.get(timeout=1))
                    continue
                return [*outcomes, "a client process exited without a result"]
    return outcomes


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection((HOST, port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.settimeout(None)  # blocking: recv only runs when epoll reports data
    return sock


def _drive(
    port: int,
    path: str,
    headers: tuple[str, ...],
    connections: int,
    seconds: int,
    barrier: Barrier,
    results: Any,
) -> None:
    """One client process; puts ``(ok, bad_status, errors, elapsed)`` or an error text."""
    try:
        results.put(_loop(port, path, headers, connections, seconds, barrier))
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group; the parent reports
        return
    except Exception as exc:
        barrier.abort()
        results.put(f"{type(exc).__name__}: {exc}")


def _loop(
    port: int, path: str, headers: tuple[str, ...], connections: int, seconds: int, barrier: Barrier
) -> tuple[int, int, int, float]:
    extra = "".join(f"{line}\r\n" for line in headers)
    request = f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n{extra}\r\n".encode()
    selector = selectors.DefaultSelector()
    for _ in range(connections):
        selector.register(_connect(port), selectors.EVENT_READ, bytearray())
    barrier.wait(timeout=30)
    start = now = time.monotonic()
    deadline = start + seconds
    for key in selector.get_map().values():
        key.fileobj.sendall(request)  # type: ignore[union-attr]
    done = bad = errors = 0
    while now < deadline:
        for key, _ in selector.select(deadline - now):
            sock: socket.socket = key.fileobj  # type: ignore[assignment]
            buffer: bytearray = key.data
            chunk = sock.recv(65536)
            if not chunk:  # closed by the server: count it and reconnect
                errors += 1
                selector.unregister(sock)
                sock.close()
                fresh = _connect(port)
                selector.register(fresh, selectors.EVENT_READ, bytearray())
                fresh.sendall(request)
                continue
            buffer += chunk
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                continue
            head = bytes(buffer[:end]).lower()
            at = head.find(b"\r\ncontent-length:")
            if at < 0:
                raise RuntimeError("response without content-length")
            stop = head.find(b"\r\n", at + 17)
            total = end + 4 + int(head[at + 17 : stop if stop >= 0 else None])
            if len(buffer) < total:
                continue
            del buffer[:total]
            done += 1
            if int(head[9:12]) >= 400:
                bad += 1
            sock.sendall(request)
        now = time.monotonic()
    for key in list(selector.get_map().values()):
        key.fileobj.close()  # type: ignore[union-attr]
    selector.close()
    return done, bad, errors, now - start
