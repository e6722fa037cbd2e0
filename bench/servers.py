"""Start, probe and stop the benchmarked server processes.

Each server runs ``python -m bench.serve`` in its own session, so stopping it signals
the whole process group (granian's supervisor and its worker) and nothing else.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

PROJECT_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
PATH = "/health/live"
FULL_TARGET = "entrypoints.http.asgi:create"
BARE_TARGET = "bench.baseline:create"


class ServerError(RuntimeError):
    """A server did not start or did not answer as expected."""


def free_port() -> int:
    """A port the kernel reports free on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def app_environment(data_dir: Path, port: int) -> dict[str, str]:
    """The process environment for the full app: inherited ``NINEFOLD_*`` variables and
    any ``.env`` are ignored so that every run measures the same configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NINEFOLD_")}
    env.update(
        NINEFOLD_ENV_FILE="",  # empty: do not read ./.env
        NINEFOLD_ENV="development",
        NINEFOLD_DATA_DIR=str(data_dir),
        NINEFOLD_HOST=HOST,
        NINEFOLD_PORT=str(port),
        NINEFOLD_LOG_LEVEL="warning",
        # The jobs worker polls the database in the app process; it is off so that the
        # figures measure HTTP only (the live probe never touches it).
        NINEFOLD_RUN_WORKER="false",
    )
    return env


def run_cli(args: list[str], env: dict[str, str], log: Path, timeout: float = 120) -> str:
    """``ninefold ARGS`` with the app's environment; its output (also appended to ``log``)."""
    cli = Path(sys.executable).with_name("ninefold")
    command = [str(cli)] if cli.exists() else [sys.executable, "-m", "entrypoints.cli"]
    done = subprocess.run(
        [*command, *args],
        env=env,
        cwd=PROJECT_ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=timeout,
        check=False,
    )
    with log.open("ab") as out:
        out.write(done.stdout)
    if done.returncode != 0:
        raise ServerError(f"'ninefold {' '.join(args)}' failed ({done.returncode}); see {log}")
    return done.stdout.decode(errors="replace")


def migrate(env: dict[str, str], log: Path) -> None:
    """``ninefold db upgrade`` with the app's environment (readiness needs it)."""
    run_cli(["db", "upgrade"], env, log)


_DEMO_USER = re.compile(r"^\s*demo user\s+(\S+@\S+)\s+(\S+)", re.MULTILINE)


def seed_demo(env: dict[str, str], log: Path) -> tuple[str, str]:
    """``ninefold seed-demo`` in a fresh database: the demo user's email and password,
    parsed from the line ``demo user   <email>  <password>  (owner of ...)``."""
    output = run_cli(["seed-demo"], env, log)
    found = _DEMO_USER.search(output)
    if found is None:
        raise ServerError(f"'ninefold seed-demo' printed no demo user line; see {log}")
    return found.group(1), found.group(2)


@dataclass(frozen=True)
class Answer:
    """One HTTP response: status, headers (lower-case names, repeats kept), body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header_values(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name]


def request(
    port: int,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> Answer:
    """One request on a fresh connection to ``HOST:port``."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        received = [(k.lower(), v) for k, v in response.getheaders()]
    finally:
        conn.close()
    return Answer(response.status, received, data)


@dataclass
class Server:
    """One granian server serving ``target`` on ``HOST:port``."""

    name: str
    target: str
    port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    _log_file: IO[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}{PATH}"

    def start(self) -> None:
        """Spawn the server in a new session (its own process group)."""
        env = dict(self.env)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p
        )
        self._log_file = self.log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.serve", self.target, "--port", str(self.port)],
            env=env,
            cwd=PROJECT_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 30.0) -> dict[str, str]:
        """Poll ``GET /health/live`` until it answers 200; return the response headers."""
        deadline = time.monotonic() + timeout
        last_error = "no answer"
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise ServerError(f"{self.name} server exited early; see {self.log}")
            try:
                return self.probe()
            except (OSError, http.client.HTTPException, ServerError) as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            time.sleep(0.1)
        raise ServerError(f"{self.name} server not ready after {timeout:g}s ({last_error})")

    def probe(self) -> dict[str, str]:
        """One request; check the status and body, return the headers (lower-cased)."""
        answer = request(self.port, "GET", PATH, timeout=2)
        if answer.status != 200 or answer.body.replace(b" ", b"") != b'{"status":"ok"}':
            raise ServerError(
                f"{self.name}: unexpected answer {answer.status} {answer.body[:80]!r}"
            )
        return dict(answer.headers)

    def cpu_seconds(self) -> float | None:
        """User + system CPU time used so far by the server's processes (Linux only)."""
        if self.process is None:
            return None
        return group_cpu_seconds(self.process.pid)

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM the server's process group, SIGKILL it if it lingers."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            _signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait(timeout)
        if process is not None:
            # The supervisor may be gone while a worker lingers in the group.
            _signal_group(process.pid, signal.SIGKILL)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def group_cpu_seconds(pgid: int) -> float | None:
    """CPU seconds of the live processes in group ``pgid``, from ``/proc``; None when
    ``/proc`` is not there."""
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        return None
    ticks = 0
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # the process just ended
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # from field 3, "state"
        if int(fields[2]) == pgid:  # pgrp; then utime and stime are fields 14 and 15
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")
