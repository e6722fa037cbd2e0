"""The ``ninefold`` command line, called in-process as ``main([...])``.

Settings come from ``NINEFOLD_*`` environment variables, as in production; each test
runs in its own ``tmp_path`` (also the working directory, so no ``.env`` of the repository
is read). Commands that touch a database run on SQLite and, with
``NINEFOLD_TEST_POSTGRES_URL`` set, on PostgreSQL.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest
from sqlalchemy.engine import make_url

from entrypoints.cli.main import main
from entrypoints.contracts import PUBLIC_EVENTS
from entrypoints.settings import Settings, env_name, mask
from entrypoints.testing.databases import PostgresTemplate, SqliteTemplate
from entrypoints.testing.plugin import BACKENDS

EXIT_CONFIG = 78
HEADS = ("billing_0004", "identity_0007", "notifications_0003", "safety_0006", "workflows_0003")


@dataclass
class Run:
    code: int
    out: str
    err: str


Ninefold = Callable[..., Run]


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No ``NINEFOLD_*`` setting of the test run's own, but a data directory of its own.
    (``NINEFOLD_TEST_*`` variables stay: the database fixtures read them, the CLI not.)"""
    for name in list(os.environ):
        if name.startswith("NINEFOLD_") and not name.startswith("NINEFOLD_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NINEFOLD_DATA_DIR", str(tmp_path / "var"))
    return monkeypatch


@pytest.fixture
def ninefold(cli_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Ninefold:
    """``ninefold(*argv)`` runs the CLI and returns its exit code and output."""

    def run(*argv: str) -> Run:
        capsys.readouterr()
        try:
            code = main(list(argv))
        except SystemExit as exit_:  # argparse exits on --help and on usage errors
            code = int(exit_.code or 0)
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


@pytest.fixture
def migrated_database(database_url: str, cli_env: pytest.MonkeyPatch) -> str:
    """The CLI's database: a fresh, migrated one (the plugin's ``database_url``)."""
    cli_env.setenv("NINEFOLD_DATABASE_URL", database_url)
    return database_url


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database no migration has touched, on each backend in turn."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty' / 'ninefold.db'}"
        return
    postgres: PostgresTemplate = request.getfixturevalue("postgres_template")
    name, url = postgres.new_empty_database()
    yield url
    postgres.drop(name)


@pytest.fixture
def empty_database(empty_database_url: str, cli_env: pytest.MonkeyPatch) -> str:
    cli_env.setenv("NINEFOLD_DATABASE_URL", empty_database_url)
    return empty_database_url


@pytest.fixture
def another_database_url(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> Iterator[str]:
    """A second fresh, migrated database on the same backend as ``database_url``."""
    if make_url(database_url).get_backend_name() == "sqlite":
        template: SqliteTemplate = request.getfixturevalue("sqlite_template")
        folder = tmp_path / "another"
        folder.mkdir()
        yield template.new_database(folder)
        return
    postgres: PostgresTemplate = request.getfixturevalue("postgres_template")
    name, url = postgres.new_database()
    yield url
    postgres.drop(name)


# --- help and usage ---------------------------------------------------------------------


def test_help_lists_every_command_and_the_exit_codes(ninefold: Ninefold) -> None:
    result = ninefold("--help")

    assert result.code == 0
    for command in ("serve", "worker", "db", "openapi", "seed-demo", "config"):
        assert re.search(rf"^\s+{command}\s", result.out, re.MULTILINE), command
    assert "Exit codes: 0 success, 1 failure, 2 usage error, 78 configuration error" in (
        " ".join(result.out.split())
    )


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["serve"], "Serve the app with granian"),
        (["worker"], "Deliver outbox events and run scheduled tasks"),
        (["db"], "Alembic migrations, one branch per system"),
        (["db", "upgrade"], "revision (default: heads)"),
        (["db", "downgrade"], "'identity@base'"),
        (["db", "current"], "exit 1 when anything is pending"),
        (["openapi"], "Write the app's OpenAPI document"),
        (["seed-demo"], "create a platform superadmin and a demo user"),
        (["config"], "validate and print the effective configuration, secrets masked"),
        (["config", "check"], "usage: ninefold config check"),
    ],
    ids=" ".join,
)
def test_each_command_explains_itself_with_help(
    ninefold: Ninefold, argv: list[str], says: str
) -> None:
    result = ninefold(*argv, "--help")

    assert result.code == 0
    assert says in " ".join(result.out.split())


def test_an_unknown_command_is_a_usage_error(ninefold: Ninefold) -> None:
    result = ninefold("frobnicate")

    assert result.code == 2
    assert "invalid choice: 'frobnicate'" in result.err


# --- config check -----------------------------------------------------------------------


def printed_configuration(out: str) -> dict[str, str]:
    """``NINEFOLD_X  value`` lines as a mapping (a value may be empty)."""
    pairs = (line.split(maxsplit=1) for line in out.splitlines() if line.strip())
    return {pair[0]: pair[1] if len(pair) > 1 else "" for pair in pairs}


def test_config_check_prints_every_setting_with_secrets_masked(
    ninefold: Ninefold, cli_env: pytest.MonkeyPatch
) -> None:
    secret_key = "sk-" + secrets.token_urlsafe(40)
    cli_env.setenv("NINEFOLD_SECRET_KEY", secret_key)
    cli_env.setenv("NINEFOLD_DATABASE_URL", "postgresql://app:hunter2-db-pass@db.internal/app")

    result = ninefold("config", "check")

    assert result.code == 0
    shown = printed_configuration(result.out)
    assert set(shown) == {env_name(field.name) for field in msgspec.structs.fields(Settings)}
    assert shown["NINEFOLD_SECRET_KEY"] == mask(secret_key)
    assert shown["NINEFOLD_DATABASE_URL"] == "postgresql://app:***@db.internal/app"
    assert secret_key not in result.out + result.err
    assert "hunter2-db-pass" not in result.out + result.err
    assert "configuration is valid" in result.err


def test_a_bad_configuration_exits_78_naming_every_problem_at_once(
    ninefold: Ninefold, cli_env: pytest.MonkeyPatch
) -> None:
    cli_env.setenv("NINEFOLD_PORT", "abc")
    cli_env.setenv("NINEFOLD_ENV", "production")  # and no NINEFOLD_SECRET_KEY
    cli_env.setenv("NINEFOLD_LOG_LEVL", "debug")  # a typo

    result = ninefold("config", "check")

    assert result.code == EXIT_CONFIG
    problems = [line for line in result.err.splitlines() if line.startswith("  - ")]
    assert problems == [
        "  - NINEFOLD_LOG_LEVL is not a known setting",
        "  - NINEFOLD_PORT=abc: expected a whole number",
        "  - NINEFOLD_SECRET_KEY is required in production",
        "  - NINEFOLD_PUBLIC_URL must be the app's https:// address in production "
        "(it goes into links sent by email)",
        "  - NINEFOLD_ALLOWED_HOSTS must name the app's hosts in production",
    ]
    assert result.out == ""


# --- db ---------------------------------------------------------------------------------


def test_db_current_check_fails_on_an_empty_database_naming_the_pending_heads(
    ninefold: Ninefold, empty_database: str
) -> None:
    result = ninefold("db", "current", "--check")

    assert result.code == 1
    assert "current: (empty)" in result.out
    assert f"pending heads: {', '.join(HEADS)}" in result.out


def test_db_upgrade_brings_an_empty_database_to_every_systems_head(
    ninefold: Ninefold, empty_database: str
) -> None:
    upgrade = ninefold("db", "upgrade")
    check = ninefold("db", "current", "--check")

    assert upgrade.code == 0
    assert f"database at: {', '.join(HEADS)}" in upgrade.out
    assert check.code == 0
    assert f"current: {', '.join(HEADS)}" in check.out
    assert "pending heads: none" in check.out


def test_db_downgrade_of_one_system_leaves_the_check_failing(
    ninefold: Ninefold, migrated_database: str
) -> None:
    downgrade = ninefold("db", "downgrade", "identity@base")
    check = ninefold("db", "current", "--check")

    assert downgrade.code == 0
    remaining = "billing_0004, notifications_0003, safety_0006, workflows_0003"
    assert f"database at: {remaining}" in downgrade.out
    assert check.code == 1
    assert "pending heads: identity_0007" in check.out


# --- seed-demo --------------------------------------------------------------------------

CREDENTIAL = re.compile(r"^\s+(superadmin|demo user)\s+(\S+@example\.com)\s+(\S+)", re.MULTILINE)


def seeded_passwords(out: str) -> dict[str, str]:
    return {email: password for _who, email, password in CREDENTIAL.findall(out)}


def test_seed_demo_prints_two_generated_credentials(
    ninefold: Ninefold, migrated_database: str
) -> None:
    result = ninefold("seed-demo")

    assert result.code == 0
    assert "these passwords are shown only now" in result.out
    passwords = seeded_passwords(result.out)
    assert set(passwords) == {"admin@example.com", "demo@example.com"}
    assert passwords["admin@example.com"] != passwords["demo@example.com"]


def test_seed_demo_generates_new_passwords_for_each_fresh_install(
    ninefold: Ninefold,
    cli_env: pytest.MonkeyPatch,
    database_url: str,
    another_database_url: str,
    tmp_path: Path,
) -> None:
    seeded = []
    for name, url in (("first", database_url), ("second", another_database_url)):
        cli_env.setenv("NINEFOLD_DATA_DIR", str(tmp_path / name))
        cli_env.setenv("NINEFOLD_DATABASE_URL", url)
        seeded.append(seeded_passwords(ninefold("seed-demo").out))

    first, second = seeded
    assert len(first) == len(second) == 2
    assert set(first.values()).isdisjoint(second.values())


def test_seed_demo_a_second_time_changes_nothing_and_prints_no_password(
    ninefold: Ninefold, migrated_database: str
) -> None:
    first = ninefold("seed-demo")
    second = ninefold("seed-demo")

    assert second.code == 0
    assert "nothing changed" in second.out
    assert seeded_passwords(second.out) == {}
    for password in seeded_passwords(first.out).values():
        assert password not in second.out + second.err


# --- openapi ----------------------------------------------------------------------------


def test_openapi_check_passes_on_the_file_it_just_wrote(ninefold: Ninefold, tmp_path: Path) -> None:
    document = tmp_path / "contracts" / "openapi.json"

    write = ninefold("openapi", "--output", str(document))
    check = ninefold("openapi", "--check", "--output", str(document))

    assert write.code == 0
    assert msgspec.json.decode(document.read_bytes())["info"]["title"] == "ninefold"
    assert check.code == 0
    assert f"{document} is current" in check.out


def test_openapi_check_fails_on_a_modified_file(ninefold: Ninefold, tmp_path: Path) -> None:
    document = tmp_path / "openapi.json"
    ninefold("openapi", "--output", str(document))
    stale = msgspec.json.decode(document.read_bytes())
    stale["info"]["title"] = "an older title"
    document.write_bytes(msgspec.json.format(msgspec.json.encode(stale), indent=2))

    check = ninefold("openapi", "--check", "--output", str(document))

    assert check.code == 1
    assert f"{document} is stale: run 'ninefold openapi'" in check.err


def test_openapi_check_fails_when_the_file_is_missing(ninefold: Ninefold, tmp_path: Path) -> None:
    check = ninefold("openapi", "--check", "--output", str(tmp_path / "missing.json"))

    assert check.code == 1
    assert "is stale" in check.err


# --- contracts --------------------------------------------------------------------------


def test_contracts_writes_the_openapi_document_and_one_schema_per_event(
    ninefold: Ninefold, tmp_path: Path
) -> None:
    folder = tmp_path / "contracts"

    write = ninefold("contracts", "--folder", str(folder))
    check = ninefold("contracts", "--check", "--folder", str(folder))

    assert write.code == 0
    assert (folder / "openapi.json").is_file()
    assert {p.name for p in (folder / "events").glob("*.json")} == {
        f"{event.name}.json" for event in PUBLIC_EVENTS
    } | {"webhook.envelope.json", "webhook.test.json"}
    assert check.code == 0


def test_contracts_check_fails_on_a_schema_of_an_event_that_no_longer_exists(
    ninefold: Ninefold, tmp_path: Path
) -> None:
    folder = tmp_path / "contracts"
    ninefold("contracts", "--folder", str(folder))
    (folder / "events" / "identity.retired_event.json").write_text("{}")

    check = ninefold("contracts", "--check", "--folder", str(folder))
    rewrite = ninefold("contracts", "--folder", str(folder))

    assert check.code == 1
    assert "identity.retired_event.json is stale" in check.err
    assert rewrite.code == 0
    assert not (folder / "events" / "identity.retired_event.json").exists()
