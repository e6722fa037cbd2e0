"""Both password policies pass the port's contract; the zxcvbn adapter's own rules and
cost bounds hold as documented."""

from __future__ import annotations

import time

import pytest

from adapters.memory.password_policy import ListPasswordPolicy
from adapters.zxcvbn.policy import (
    BUILT_FROM_DETAILS,
    COMMON_PASSWORD,
    MAX_SCORED_LENGTH,
    MIN_SCORED_LENGTH,
    TOO_GUESSABLE,
    ZxcvbnPasswordPolicy,
    context_words,
    scored_prefix,
)
from contracts.ports.password_policy import ADA, PasswordPolicyContract

# Every character zxcvbn's l33t table knows: 736 substitution tables, the worst case.
L33T_CHARACTERS = "4@8({[<369!1|7$5+%20"


class TestZxcvbnPasswordPolicy(PasswordPolicyContract):
    @pytest.fixture
    def password_policy(self) -> ZxcvbnPasswordPolicy:
        return ZxcvbnPasswordPolicy()


class TestListPasswordPolicy(PasswordPolicyContract):
    @pytest.fixture
    def password_policy(self) -> ListPasswordPolicy:
        return ListPasswordPolicy()


@pytest.fixture(scope="module")
def policy() -> ZxcvbnPasswordPolicy:
    return ZxcvbnPasswordPolicy()


@pytest.mark.parametrize("password", ["Password123!", "monkey2024", " dragon ", "QWERTY!!"])
def test_a_decorated_common_password_is_still_common(
    policy: ZxcvbnPasswordPolicy, password: str
) -> None:
    assert policy.problems(password) == [COMMON_PASSWORD]


@pytest.mark.parametrize(
    "password", ["lovelace2024", "Ada.Lovelace!", "example!!", "ada-example", "Lovelace_Ada_1815"]
)
def test_the_users_details_with_decoration_are_named_as_such(
    policy: ZxcvbnPasswordPolicy, password: str
) -> None:
    assert policy.problems(password, ADA) == [BUILT_FROM_DETAILS]


def test_only_a_password_made_wholly_of_the_users_words_counts_as_built_from_them(
    policy: ZxcvbnPasswordPolicy,
) -> None:
    assert policy.problems("ada-lantern-orbit-cactus", ADA) == []
    assert policy.problems("ada-lovelace-ada-lovelace-ada-lovelace" * 30, ADA) == [
        BUILT_FROM_DETAILS
    ]


def test_the_same_words_are_fine_without_that_user(policy: ZxcvbnPasswordPolicy) -> None:
    assert policy.problems("adalovelace1", ADA) != []
    assert policy.problems("adalovelace1", ["grace@example.com", "Grace Hopper"]) == []


def test_a_guessable_password_gets_zxcvbn_feedback(policy: ZxcvbnPasswordPolicy) -> None:
    problems = policy.problems("hunter2hunter2")

    assert problems[0].startswith("Repeats like")
    assert "Avoid repeated words and characters." in problems


def test_min_score_sets_the_bar_but_common_passwords_stay_refused() -> None:
    lenient, strict = ZxcvbnPasswordPolicy(min_score=0), ZxcvbnPasswordPolicy(min_score=4)

    assert lenient.problems("hunter2hunter2") == []
    assert lenient.problems("password") == [COMMON_PASSWORD]
    assert strict.problems("tr0ub4dour&3") != []


@pytest.mark.parametrize("min_score", [-1, 5])
def test_min_score_outside_zxcvbns_scale_is_refused(min_score: int) -> None:
    with pytest.raises(ValueError, match="min_score"):
        ZxcvbnPasswordPolicy(min_score=min_score)


def test_an_empty_password_is_too_guessable_not_an_error(policy: ZxcvbnPasswordPolicy) -> None:
    assert policy.problems("") == [TOO_GUESSABLE]


def test_user_inputs_are_expanded_for_zxcvbn() -> None:
    assert context_words(ADA) == [
        "ada.lovelace@example.com",
        "ada.lovelace",
        "adalovelace",
        "ada",
        "lovelace",
        "example",
        "ada lovelace",
    ]
    assert context_words(["", "  ", "Bo Li"]) == ["bo li", "boli"]


def test_the_scored_prefix_is_capped_and_shrinks_for_l33t_heavy_passwords() -> None:
    plain = "correct horse battery staple " * 10
    l33t = L33T_CHARACTERS * 10

    assert scored_prefix(plain) == plain[:MAX_SCORED_LENGTH]
    assert len(scored_prefix(l33t)) == MIN_SCORED_LENGTH
    assert scored_prefix("short") == "short"


@pytest.mark.parametrize(
    "password",
    [
        L33T_CHARACTERS * 50,  # unbounded: ~1.5 s at 64 characters, ~5.5 s at 128
        "x" + L33T_CHARACTERS * 3,
        "Zq!7|1@4$5+(8{[<3%9&0^~`'" * 40,
    ],
)
def test_crafted_passwords_cannot_make_scoring_slow(
    policy: ZxcvbnPasswordPolicy, password: str
) -> None:
    started = time.perf_counter()
    policy.problems(password, ADA)

    assert time.perf_counter() - started < 0.5


def test_the_fake_uses_its_list_and_long_enough_details_only() -> None:
    fake = ListPasswordPolicy(common=["Hunter2"])

    assert fake.problems("hunter2") == [COMMON_PASSWORD]
    assert fake.problems("password") == []
    assert fake.problems("bobcat-orbit", ["Bo", "bo@example.com"]) == []
    assert fake.problems("my-lovelace-cat", ["Lovelace"]) == [BUILT_FROM_DETAILS]
