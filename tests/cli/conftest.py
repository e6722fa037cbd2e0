"""Fixtures shared by the CLI tests."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog
from tests.cli.harness import cli_env, ninefold

__all__ = ["cli_env", "ninefold"]  # fixtures for every CLI test


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The CLI configures process-wide logging (root handler, levels, structlog); put it
    back so that the next test starts from what it had."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    names = ("sqlalchemy.engine", "aiosqlite", "asyncio", "alembic", "alembic.runtime.migration")
    levels = {name: logging.getLogger(name).level for name in names}
    structlog_config = structlog.get_config()
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, saved in levels.items():
        logging.getLogger(name).setLevel(saved)
    structlog.configure(**structlog_config)
