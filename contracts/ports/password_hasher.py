"""Conformance of a ``PasswordHasher``.

Provide a fixture ``password_hasher``: the adapter under test.
"""

from __future__ import annotations

from core.identity import PasswordHasher


class PasswordHasherContract:
    def test_a_password_verifies_against_its_own_hash(
        self, password_hasher: PasswordHasher
    ) -> None:
        hashed = password_hasher.hash("correct horse battery")

        assert password_hasher.verify(hashed, "correct horse battery")

    def test_a_different_password_does_not_verify(self, password_hasher: PasswordHasher) -> None:
        hashed = password_hasher.hash("correct horse battery")

        assert not password_hasher.verify(hashed, "correct horse batterY")
        assert not password_hasher.verify(hashed, "")

    def test_the_hash_never_contains_the_password_as_is(
        self, password_hasher: PasswordHasher
    ) -> None:
        assert "correct horse battery" not in password_hasher.hash("correct horse battery")

    def test_a_garbage_hash_verifies_nothing(self, password_hasher: PasswordHasher) -> None:
        assert not password_hasher.verify("not a hash at all", "not a hash at all")

    def test_non_ascii_passwords_work(self, password_hasher: PasswordHasher) -> None:
        hashed = password_hasher.hash("pässwörd-密码-🔑")

        assert password_hasher.verify(hashed, "pässwörd-密码-🔑")
