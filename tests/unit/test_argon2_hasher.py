import pytest

from adapters.argon2.hasher import OWASP_MEMORY_KIB, OWASP_TIME_COST, Argon2PasswordHasher
from contracts.ports.password_hasher import PasswordHasherContract


def test_a_password_verifies_against_its_argon2id_hash_and_nothing_else() -> None:
    hasher = Argon2PasswordHasher()
    hashed = hasher.hash("correct horse battery")

    assert hashed.startswith("$argon2id$")
    assert f"m={OWASP_MEMORY_KIB},t={OWASP_TIME_COST},p=1" in hashed
    assert hasher.verify(hashed, "correct horse battery")
    assert not hasher.verify(hashed, "Correct horse battery")


def test_a_malformed_hash_never_verifies() -> None:
    assert not Argon2PasswordHasher().verify("not-a-hash", "anything")


def test_hashes_made_with_weaker_parameters_ask_to_be_rehashed() -> None:
    weak = Argon2PasswordHasher(memory_cost=8 * 1024, time_cost=1).hash("correct horse battery")

    assert Argon2PasswordHasher().needs_rehash(weak)
    assert not Argon2PasswordHasher().needs_rehash(Argon2PasswordHasher().hash("x" * 12))


class TestArgon2Conformance(PasswordHasherContract):
    @pytest.fixture
    def password_hasher(self) -> Argon2PasswordHasher:
        return Argon2PasswordHasher()
