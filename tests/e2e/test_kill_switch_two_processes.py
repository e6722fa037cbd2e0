"""Two app processes on one PostgreSQL database: a kill switch engaged through one is
enforced by the other within two seconds, and released the same way. Real processes
(``ninefold serve``), real ports; staff made with ``ninefold staff create``."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.e2e.test_serve import NINEFOLD, Server, free_port

from entrypoints.testing.databases import PostgresTemplate

pytestmark = pytest.mark.postgres

PASSWORD = "violet-kestrel-harbour-47"
PROPAGATION_SECONDS = 2.0
SIGN_UP = {"email": "new@example.com", "password": PASSWORD, "name": "New"}


@pytest.fixture
def shared_database(postgres_template: PostgresTemplate) -> Iterator[str]:
    name, url = postgres_template.new_database()
    yield url
    postgres_template.drop(name)


@pytest.fixture
def servers(tmp_path: Path, shared_database: str) -> Iterator[tuple[Server, Server]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NINEFOLD_")}
    env |= {
        "NINEFOLD_DATABASE_URL": shared_database,
        "NINEFOLD_SECRET_KEY": "two-processes-" + "k" * 40,
        "NINEFOLD_PASSWORD_HASHER": "fast-insecure",
        "NINEFOLD_LOG_LEVEL": "warning",
    }
    created = subprocess.run(
        [NINEFOLD, "staff", "create", "ops@example.com", "--role", "ops", "--password-stdin"],
        input=PASSWORD + "\n",
        cwd=tmp_path,
        env={**env, "NINEFOLD_DATA_DIR": str(tmp_path / "cli")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    started: list[Server] = []
    for name in ("one", "two"):
        data_dir = tmp_path / name
        data_dir.mkdir()
        port = free_port()
        log = tmp_path / f"{name}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [NINEFOLD, "serve"],
                cwd=tmp_path,
                env={**env, "NINEFOLD_DATA_DIR": str(data_dir), "NINEFOLD_PORT": str(port)},
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started.append(Server(process, port, data_dir, log))
    try:
        for server in started:
            server.wait_until_ready()
        yield started[0], started[1]
    finally:
        for server in started:
            if server.process.poll() is None:
                os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=10)


def _seconds_until_status(server: Server, status: int) -> float:
    """How long until ``POST /api/v1/auth/sign-up`` on ``server`` answers ``status``."""
    started = time.monotonic()
    deadline = started + 10.0
    while time.monotonic() < deadline:
        answer = httpx.post(server.url + "/api/v1/auth/sign-up", json=SIGN_UP, timeout=5.0)
        if answer.status_code == status:
            return time.monotonic() - started
        time.sleep(0.05)
    pytest.fail(f"{server.url} never answered {status}:\n{server.output()}")


def test_a_kill_switch_engaged_through_one_process_is_enforced_by_the_other(
    servers: tuple[Server, Server],
) -> None:
    one, two = servers
    signed_in = httpx.post(
        one.url + "/api/v1/auth/sign-in",
        json={"email": "ops@example.com", "password": PASSWORD, "transport": "bearer"},
        timeout=10.0,
    )
    assert signed_in.status_code == 200, signed_in.text
    staff = {"Authorization": f"Bearer {signed_in.json()['token']}"}
    assert httpx.post(two.url + "/api/v1/auth/sign-up", json=SIGN_UP).status_code == 202

    engaged = httpx.post(
        one.url + "/api/v1/admin/kill-switches/signups/engage",
        json={"reason": "a wave of fake accounts"},
        headers=staff,
        timeout=10.0,
    )
    assert engaged.status_code == 200, engaged.text
    assert _seconds_until_status(two, 503) < PROPAGATION_SECONDS

    released = httpx.post(
        one.url + "/api/v1/admin/kill-switches/signups/release",
        json={"reason": "over"},
        headers=staff,
        timeout=10.0,
    )
    assert released.status_code == 200, released.text
    assert _seconds_until_status(two, 202) < PROPAGATION_SECONDS
