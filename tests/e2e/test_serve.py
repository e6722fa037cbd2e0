"""``ninefold serve`` as an operator runs it: a real process, a real port, real signals.

Each server gets its own data directory (so its own SQLite database and secret key) and
a free port; ``NINEFOLD_*`` variables of the test run itself are not passed on. Every
process is killed at teardown, whatever the test did.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

NINEFOLD = str(Path(sys.executable).parent / "ninefold")
READY_WITHIN_SECONDS = 30.0
STOP_WITHIN_SECONDS = 5.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def wait_until_answering(self, path: str) -> httpx.Response:
        """The first response to ``GET path``, once the server accepts connections."""
        deadline = time.monotonic() + READY_WITHIN_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"ninefold serve exited early:\n{self.output()}")
            try:
                return httpx.get(self.url + path, timeout=2.0)
            except httpx.TransportError:
                time.sleep(0.1)
        pytest.fail(f"no answer on {self.url} within {READY_WITHIN_SECONDS:g}s:\n{self.output()}")

    def wait_until_ready(self) -> httpx.Response:
        deadline = time.monotonic() + READY_WITHIN_SECONDS
        while time.monotonic() < deadline:
            response = self.wait_until_answering("/health/ready")
            if response.status_code == 200:
                return response
            time.sleep(0.1)
        pytest.fail(f"{self.url} not ready within {READY_WITHIN_SECONDS:g}s:\n{self.output()}")

    def stop(self, signum: int) -> int | None:
        """Send ``signum``; the exit code, or None if still running after the grace time."""
        self.process.send_signal(signum)
        try:
            return self.process.wait(timeout=STOP_WITHIN_SECONDS)
        except subprocess.TimeoutExpired:
            return None


StartServer = Callable[..., Server]


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """``start_server(name, migrate=True)``: ``ninefold serve`` on a free port with data
    directory ``tmp_path/name``, after ``ninefold db upgrade`` unless ``migrate=False``."""
    started: list[Server] = []

    def start(name: str, *, migrate: bool = True, serve_args: tuple[str, ...] = ()) -> Server:
        data_dir = tmp_path / name
        data_dir.mkdir()
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("NINEFOLD_")}
        env |= {
            "NINEFOLD_DATA_DIR": str(data_dir),
            "NINEFOLD_PORT": str(port),
            "NINEFOLD_LOG_LEVEL": "warning",
        }
        if migrate:
            upgrade = subprocess.run(
                [NINEFOLD, "db", "upgrade"],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert upgrade.returncode == 0, upgrade.stderr
        log = tmp_path / f"{name}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [NINEFOLD, "serve", *serve_args],
                cwd=tmp_path,  # no .env here
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, granian's workers included
            )
        server = Server(process, port, data_dir, log)
        started.append(server)
        return server

    yield start

    for server in started:
        if server.process.poll() is None:
            os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=10)


def test_a_migrated_server_is_ready_and_tags_the_response_with_a_request_id(
    start_server: StartServer,
) -> None:
    server = start_server("app")

    response = server.wait_until_ready()

    body = response.json()
    assert body["status"] == "ok"
    assert {check["name"]: check["ok"] for check in body["checks"]} == {
        "database": True,
        "migrations": True,
    }
    assert len(response.headers["x-request-id"]) >= 8


def test_two_servers_run_side_by_side_each_on_its_own_port_and_data(
    start_server: StartServer,
) -> None:
    first, second = start_server("first"), start_server("second")

    answers = [first.wait_until_ready(), second.wait_until_ready()]

    assert first.port != second.port
    assert [answer.json()["status"] for answer in answers] == ["ok", "ok"]
    assert (first.data_dir / "ninefold.db").is_file()
    assert (second.data_dir / "ninefold.db").is_file()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_a_server_stops_promptly_and_cleanly_on_a_signal(
    start_server: StartServer, signum: signal.Signals
) -> None:
    server = start_server("app")
    server.wait_until_ready()

    exit_code = server.stop(signum)

    assert exit_code == 0, f"exit code {exit_code}:\n{server.output()}"
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "/health/live", timeout=2.0)


def test_an_unmigrated_server_is_not_ready_and_names_the_migrations_check(
    start_server: StartServer,
) -> None:
    server = start_server("app", migrate=False)
    server.wait_until_answering("/health/live")

    response = httpx.get(server.url + "/health/ready", timeout=5.0)

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    failing = [check for check in body["checks"] if not check["ok"]]
    assert [check["name"] for check in failing] == ["migrations"]
    assert "ninefold db upgrade" in failing[0]["detail"]


def test_make_runs_one_command_migrates_seeds_and_serves_a_fresh_data_dir(
    start_server: StartServer,
) -> None:
    server = start_server("fresh", migrate=False, serve_args=("--migrate", "--seed-demo"))

    response = server.wait_until_ready()

    assert response.json()["status"] == "ok"
    printed = server.output()
    assert "admin@example.com" in printed
    assert "demo@example.com" in printed
    assert "shown only now" in printed
