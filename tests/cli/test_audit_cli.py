"""``ninefold audit verify|export``: the operator checks the hash chain (exit 1 naming
the first broken entry) and exports entries as JSON Lines. What a command records names
the operator as its actor."""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest
from sqlalchemy import update

from adapters.sql.safety.audit_tables import audit_entries
from entrypoints.cli.main import main
from entrypoints.containers import build_container, close_container
from entrypoints.settings import ensure_secret_key, load_settings

STRONG = "violet-kestrel-harbour-47"


@dataclass
class Run:
    code: int
    out: str
    err: str


Ninefold = Callable[..., Run]


@pytest.fixture
def cli_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str
) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith("NINEFOLD_") and not name.startswith("NINEFOLD_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NINEFOLD_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("NINEFOLD_DATABASE_URL", database_url)
    return monkeypatch


@pytest.fixture
def ninefold(cli_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Ninefold:
    def run(*argv: str, stdin: str | None = None) -> Run:
        if stdin is not None:
            cli_env.setattr("sys.stdin", io.StringIO(stdin))
        capsys.readouterr()
        try:
            code = main(list(argv))
        except SystemExit as exit_:
            code = int(exit_.code or 0)
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


def _create_staff(ninefold: Ninefold, email: str) -> None:
    created = ninefold(
        "staff", "create", email, "--role", "ops", "--password-stdin", stdin=STRONG + "\n"
    )
    assert created.code == 0, created.err


async def _tamper(seq: int) -> None:
    container = build_container(ensure_secret_key(load_settings()))
    try:
        async with container.unit_of_work() as uow:
            await uow.session.execute(
                update(audit_entries).where(audit_entries.c.seq == seq).values(action="forged")
            )
            await uow.session.commit()
    finally:
        await close_container(container)


def test_export_writes_json_lines_naming_the_operator(ninefold: Ninefold) -> None:
    _create_staff(ninefold, "ops@example.com")
    _create_staff(ninefold, "root@example.com")

    exported = ninefold("audit", "export", "--action", "staff.*")

    assert exported.code == 0, exported.err
    lines = [msgspec.json.decode(line) for line in exported.out.splitlines()]
    assert [line["action"] for line in lines] == ["staff.role_changed"] * 2
    assert lines[0]["actor_type"] == "system"
    assert lines[0]["actor_id"].startswith("cli:")
    assert lines[0]["after"] == {"from_role": None, "role": "ops"}
    assert "2 entries exported" in exported.err
    later = ninefold("audit", "export", "--from", "2100-01-01T00:00:00Z")
    assert (later.code, later.out) == (0, "")
    naive = ninefold("audit", "export", "--from", "2026-01-01T00:00:00")
    assert naive.code == 2


def test_verify_exits_1_naming_the_first_broken_entry(ninefold: Ninefold) -> None:
    _create_staff(ninefold, "ops@example.com")
    _create_staff(ninefold, "root@example.com")

    intact = ninefold("audit", "verify")
    asyncio.run(_tamper(1))
    broken = ninefold("audit", "verify")

    assert intact.code == 0, intact.err
    assert "audit log intact: 2 entries" in intact.out
    assert broken.code == 1
    assert "broken at entry seq 1" in broken.err
