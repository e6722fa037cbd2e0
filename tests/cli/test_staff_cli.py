"""``ninefold staff``: creating platform staff, listing them, changing their roles.

Runs on SQLite and, with ``NINEFOLD_TEST_POSTGRES_URL`` set, on PostgreSQL, like the
other CLI tests (whose fixtures these mirror).
"""

from __future__ import annotations

import asyncio
import io

import pytest
from tests.cli.harness import Ninefold

from core.identity import InvalidCredentialsError, SignedIn
from entrypoints.containers import build_container, close_container
from entrypoints.settings import ensure_secret_key, load_settings

STRONG = "violet-kestrel-harbour-47"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


async def signs_in(email: str, password: str) -> bool:
    container = build_container(ensure_secret_key(load_settings()))
    try:
        async with container.unit_of_work() as uow:
            service = container.identity.sessions(session=uow.session)
            try:
                return isinstance(await service.sign_in(email, password), SignedIn)
            except InvalidCredentialsError:
                return False
    finally:
        await close_container(container)


def test_create_reads_the_password_from_stdin(ninefold: Ninefold) -> None:
    result = ninefold(
        "staff", "create", "Ops@Example.com", "--role", "ops", "--password-stdin",
        stdin=STRONG + "\n",
    )  # fmt: skip

    assert result.code == 0, result.err
    assert "created staff account ops@example.com (ops)" in result.out
    assert STRONG not in result.out + result.err
    assert asyncio.run(signs_in("ops@example.com", STRONG))
    listed = ninefold("staff", "list")
    assert listed.code == 0
    assert "ops@example.com" in listed.out
    assert " ops " in listed.out


def test_create_asks_twice_on_a_hidden_prompt(
    ninefold: Ninefold, cli_env: pytest.MonkeyPatch
) -> None:
    prompts: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return STRONG

    cli_env.setattr("getpass.getpass", fake_getpass)
    cli_env.setattr("sys.stdin", _Terminal())

    result = ninefold("staff", "create", "root@example.com", "--role", "superadmin")

    assert result.code == 0, result.err
    assert len(prompts) == 2
    assert "root@example.com" in prompts[0]
    assert asyncio.run(signs_in("root@example.com", STRONG))


def test_prompts_that_differ_create_nothing(
    ninefold: Ninefold, cli_env: pytest.MonkeyPatch
) -> None:
    answers = iter([STRONG, STRONG + "x"])
    cli_env.setattr("getpass.getpass", lambda prompt="": next(answers))
    cli_env.setattr("sys.stdin", _Terminal())

    result = ninefold("staff", "create", "root@example.com", "--role", "superadmin")

    assert result.code == 1
    assert "the passwords differ" in result.err
    assert "root@example.com" not in ninefold("staff", "list").out


def test_without_a_terminal_or_password_stdin_it_is_a_usage_error(
    ninefold: Ninefold,
) -> None:
    result = ninefold("staff", "create", "root@example.com", "--role", "ops", stdin="")

    assert result.code == 2
    assert "--password-stdin" in result.err


def test_a_weak_password_is_refused_listing_the_problems(ninefold: Ninefold) -> None:
    result = ninefold(
        "staff", "create", "ops@example.com", "--role", "ops", "--password-stdin",
        stdin="password123\n",
    )  # fmt: skip

    assert result.code == 1
    assert result.err.startswith("ninefold staff create: password refused: ")
    assert len(result.err.strip().splitlines()) == 1
    assert "ops@example.com" not in ninefold("staff", "list").out


def test_a_bad_email_or_role_fails_clearly(ninefold: Ninefold) -> None:
    bad_email = ninefold(
        "staff", "create", "not-an-email", "--role", "ops", "--password-stdin", stdin=STRONG
    )
    bad_role = ninefold("staff", "create", "ops@example.com", "--role", "owner")

    assert bad_email.code == 1
    assert "is not an email address" in bad_email.err
    assert bad_role.code == 2


def test_an_existing_user_is_promoted_with_the_password_unchanged(
    ninefold: Ninefold,
) -> None:
    ninefold(
        "staff", "create", "ada@example.com", "--role", "ops", "--password-stdin", stdin=STRONG
    )
    ninefold("staff", "set-role", "ada@example.com", "none")
    assert "ada@example.com" not in ninefold("staff", "list").out

    result = ninefold("staff", "create", "ada@example.com", "--role", "support", stdin="")

    assert result.code == 0, result.err
    assert "password is unchanged" in result.out
    assert asyncio.run(signs_in("ada@example.com", STRONG))
    again = ninefold("staff", "create", "ada@example.com", "--role", "ops")
    assert again.code == 1
    assert "staff already" in again.err


def test_set_role_changes_and_removes_a_staff_role(ninefold: Ninefold) -> None:
    ninefold(
        "staff", "create", "ops@example.com", "--role", "ops", "--password-stdin", stdin=STRONG
    )

    promoted = ninefold("staff", "set-role", "ops@example.com", "superadmin")
    assert promoted.code == 0
    assert "is now superadmin" in promoted.out
    assert "superadmin" in ninefold("staff", "list").out

    removed = ninefold("staff", "set-role", "ops@example.com", "none")
    assert removed.code == 0
    assert "no longer staff" in removed.out
    assert "no staff yet" in ninefold("staff", "list").out

    unknown = ninefold("staff", "set-role", "nobody@example.com", "ops")
    assert unknown.code == 1
    assert "no user has the email" in unknown.err
