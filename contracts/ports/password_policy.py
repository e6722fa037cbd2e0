"""Conformance of a ``PasswordPolicy``.

Provide a fixture ``password_policy``: the adapter under test.
"""

from __future__ import annotations

import pytest

from core.identity.ports import PasswordPolicy

ADA = ("ada.lovelace@example.com", "ada.lovelace", "Ada Lovelace")
PASSPHRASE = "lantern orbit cactus velvet harbor"


def assert_readable(problems: list[str]) -> None:
    assert problems, "expected at least one problem"
    for problem in problems:
        assert isinstance(problem, str)
        assert problem.strip() == problem
        assert len(problem) > 10


class PasswordPolicyContract:
    @pytest.mark.parametrize("password", ["password", "123456789", "qwertyuiop"])
    def test_the_most_common_passwords_are_refused(
        self, password_policy: PasswordPolicy, password: str
    ) -> None:
        assert_readable(password_policy.problems(password))
        assert_readable(password_policy.problems(password, ADA))

    def test_capitals_do_not_hide_a_common_password(self, password_policy: PasswordPolicy) -> None:
        assert_readable(password_policy.problems("PassWord"))

    def test_a_long_uncommon_passphrase_is_accepted(self, password_policy: PasswordPolicy) -> None:
        assert password_policy.problems(PASSPHRASE) == []
        assert password_policy.problems(PASSPHRASE, ADA) == []

    def test_a_password_built_from_the_users_email_is_refused(
        self, password_policy: PasswordPolicy
    ) -> None:
        assert_readable(password_policy.problems("adalovelace1", ADA))

    def test_the_users_name_with_symbols_is_refused(self, password_policy: PasswordPolicy) -> None:
        assert_readable(password_policy.problems("Ada.Lovelace!", ADA))

    def test_a_very_long_passphrase_is_accepted(self, password_policy: PasswordPolicy) -> None:
        long = " ".join(f"{word}{n}" for n, word in enumerate(PASSPHRASE.split() * 40))

        assert password_policy.problems(long, ADA) == []

    def test_non_ascii_passwords_are_judged_without_error(
        self, password_policy: PasswordPolicy
    ) -> None:
        problems = password_policy.problems("pässwörd-密码-🔑-orbit-cactus", ["Zoë Müller"])

        assert isinstance(problems, list)
        assert all(isinstance(problem, str) for problem in problems)
