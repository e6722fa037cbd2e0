"""Running ``ninefold`` inside a test: ``ninefold("jobs", "list")`` calls the CLI's
``main`` in this process, against the test's own database (``cli_env``: no
``NINEFOLD_*`` variable of the test run itself leaks in), and answers the exit code and
what it printed. ``conftest.py`` makes the fixtures available to every CLI test."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from entrypoints.cli.main import main


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
    monkeypatch.setenv("NINEFOLD_LOG_LEVEL", "warning")
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
