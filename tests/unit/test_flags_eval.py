"""Flag evaluation from a compiled snapshot: operators, segments, overrides, rollouts
with sticky buckets, variant splits, environments, staleness, and the murmur3 hash."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.safety.flag_eval import (
    Bucketing,
    EvaluationContext,
    Flags,
    FlagSet,
    Reason,
)
from core.safety.flags import (
    Constraint,
    EnvironmentConfig,
    Flag,
    FlagDefinitionError,
    FlagKind,
    Operator,
    Override,
    Rule,
    Segment,
    ValueType,
    Variant,
    parse_semver,
    validate_flag,
    with_default_variants,
)
from core.safety.murmur3 import murmur3_32

T0 = datetime(2030, 1, 1, tzinfo=UTC)
ENV = "production"


def flag(key: str = "new-checkout", env: str = ENV, **config: Any) -> Flag:
    made = with_default_variants(
        Flag(key=key, created_at=T0, environments={env: EnvironmentConfig(**config)})
    )
    validate_flag(made, set())
    return made


def when(constraint: Constraint, **config: Any) -> Flag:
    return flag(enabled=True, rules=(Rule(constraints=(constraint,)),), **config)


def on(made: Flag, segments: tuple[Segment, ...] = (), **ctx: Any) -> bool:
    attributes = ctx.pop("attributes", {})
    context = EvaluationContext(**ctx, attributes=attributes)
    return FlagSet([made], segments).evaluator(ENV).is_enabled(made.key, context)


# --- murmur3 ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "seed", "expected"),
    [
        (b"", 0, 0),
        (b"", 1, 0x514E28B7),
        (b"", 0xFFFFFFFF, 0x81F16F39),
        (b"\x00\x00\x00\x00", 0, 0x2362F9DE),
        (b"hello", 0, 613153351),
        (b"hello", 1, 3142237357),
        (b"Hello, world!", 1234, 0xFAF6CDB3),
        (b"The quick brown fox jumps over the lazy dog", 0, 0x2E4FF723),
        (b"aaaa", 0x9747B28C, 0x5A97808A),
        (b"abc", 0, 0xB3DD93FA),
    ],
)
def test_murmur3_matches_the_reference_vectors(data: bytes, seed: int, expected: int) -> None:
    assert murmur3_32(data, seed) == expected


def test_murmur3_agrees_with_the_c_implementation_on_random_input() -> None:
    mmh3 = pytest.importorskip("mmh3")
    import random

    rng = random.Random(7)
    for _ in range(500):
        data = rng.randbytes(rng.randint(0, 64))
        seed = rng.randint(0, 2**32 - 1)
        assert murmur3_32(data, seed) == mmh3.hash(data, seed, signed=False)


def test_buckets_are_unleash_buckets_for_the_same_group_and_user() -> None:
    unleash = pytest.importorskip("UnleashClient.utils")
    bucketing = Bucketing()
    for user in ("usr_1", "alice", "123456", "ws_9"):
        assert bucketing.rollout_bucket("new-checkout", user) == unleash.normalized_hash(
            user, "new-checkout"
        )


# --- operators ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "values", "given", "matches"),
    [
        (Operator.EQUALS, ("pro",), "pro", True),
        (Operator.EQUALS, ("pro",), "free", False),
        (Operator.NOT_EQUALS, ("pro",), "free", True),
        (Operator.NOT_EQUALS, ("pro",), "pro", False),
        (Operator.IN, ("pro", "team"), "team", True),
        (Operator.IN, ("pro", "team"), "free", False),
        (Operator.NOT_IN, ("pro", "team"), "free", True),
        (Operator.NOT_IN, ("pro", "team"), "pro", False),
        (Operator.REGEX, (r"@example\.com$",), "ann@example.com", True),
        (Operator.REGEX, (r"@example\.com$",), "ann@example.org", False),
        (Operator.NUM_EQ, ("3",), "3.0", True),
        (Operator.NUM_GT, ("3",), "4", True),
        (Operator.NUM_GT, ("3",), "3", False),
        (Operator.NUM_GTE, ("3",), "3", True),
        (Operator.NUM_LT, ("3",), "2.5", True),
        (Operator.NUM_LTE, ("3",), "3.1", False),
        (Operator.NUM_GT, ("3",), "many", False),
        (Operator.SEMVER_EQ, ("1.2.3",), "v1.2.3", True),
        (Operator.SEMVER_GT, ("1.2.3",), "1.10.0", True),
        (Operator.SEMVER_GT, ("1.2.3",), "1.2.3-beta.1", False),
        (Operator.SEMVER_GTE, ("1.2.3-beta.2",), "1.2.3-beta.10", True),
        (Operator.SEMVER_LT, ("2.0.0",), "2.0.0-rc.1", True),
        (Operator.SEMVER_LTE, ("2.0.0",), "2.0.1", False),
        (Operator.SEMVER_LT, ("2.0.0",), "not-a-version", False),
    ],
)
def test_each_operator_compares_a_custom_attribute(
    operator: Operator, values: tuple[str, ...], given: str, matches: bool
) -> None:
    made = when(Constraint(attribute="tier", operator=operator, values=values))

    assert on(made, attributes={"tier": given}) is matches


def test_a_missing_attribute_matches_only_the_negative_operators() -> None:
    for operator, expected in [(Operator.IN, False), (Operator.NOT_IN, True)]:
        made = when(Constraint(attribute="country", operator=operator, values=("FR",)))
        assert on(made, user_id="usr_1") is expected


def test_negate_inverts_a_constraint() -> None:
    made = when(Constraint(attribute="plan", operator=Operator.IN, values=("pro",), negate=True))

    assert on(made, plan="free") is True
    assert on(made, plan="pro") is False


def test_case_insensitive_comparison_when_asked() -> None:
    made = when(
        Constraint(attribute="country", operator=Operator.IN, values=("fr",), case_insensitive=True)
    )

    assert on(made, attributes={"country": "FR"}) is True


def test_built_in_attributes_user_workspace_plan_and_environment() -> None:
    for attribute, ctx in [
        ("user_id", {"user_id": "usr_1"}),
        ("workspace_id", {"workspace_id": "usr_1"}),
        ("plan", {"plan": "usr_1"}),
    ]:
        made = when(Constraint(attribute=attribute, operator=Operator.EQUALS, values=("usr_1",)))
        assert on(made, **ctx) is True
        assert on(made) is False


def test_booleans_and_numbers_in_attributes_compare_as_text() -> None:
    beta = when(Constraint(attribute="beta", operator=Operator.EQUALS, values=("true",)))
    seats = when(Constraint(attribute="seats", operator=Operator.NUM_GTE, values=("10",)))

    assert on(beta, attributes={"beta": True}) is True
    assert on(seats, attributes={"seats": 12}) is True


# --- segments, overrides, rules, defaults ------------------------------------------------


def test_a_segment_adds_its_constraints_to_every_rule_that_names_it() -> None:
    staff = Segment(
        key="staff",
        constraints=(
            Constraint(attribute="email", operator=Operator.REGEX, values=(r"@ninefold\.dev$",)),
        ),
    )
    made = with_default_variants(
        Flag(
            key="dash",
            environments={ENV: EnvironmentConfig(enabled=True, rules=(Rule(segments=("staff",)),))},
        )
    )
    validate_flag(made, {"staff"})

    assert on(made, (staff,), attributes={"email": "a@ninefold.dev"}) is True
    assert on(made, (staff,), attributes={"email": "a@example.com"}) is False


def test_a_rule_naming_an_unknown_segment_is_refused() -> None:
    made = with_default_variants(
        Flag(key="dash", environments={ENV: EnvironmentConfig(rules=(Rule(segments=("x",)),))})
    )

    with pytest.raises(FlagDefinitionError, match="no segment"):
        validate_flag(made, set())


def test_an_override_wins_over_the_rules() -> None:
    made = flag(
        enabled=True,
        overrides=(Override(values=("usr_vip",), variant="off"),),
        rules=(Rule(),),
    )
    evaluator = FlagSet([made], []).evaluator(ENV)

    vip = evaluator.evaluate(made.key, EvaluationContext(user_id="usr_vip"))
    other = evaluator.evaluate(made.key, EvaluationContext(user_id="usr_2"))

    assert (vip.value, vip.reason) == (False, Reason.OVERRIDE)
    assert (other.value, other.reason, other.rule) == (True, Reason.RULE, 0)


def test_rules_are_tried_in_order_and_the_default_serves_the_rest() -> None:
    made = Flag(
        key="banner",
        value_type=ValueType.STRING,
        variants=(
            Variant(key="plain", value="Hello"),
            Variant(key="pro", value="Hello, Pro"),
            Variant(key="team", value="Hello, Team"),
        ),
        off_variant="plain",
        environments={
            ENV: EnvironmentConfig(
                enabled=True,
                default_variant="plain",
                rules=(
                    Rule(
                        constraints=(
                            Constraint(attribute="plan", operator=Operator.EQUALS, values=("pro",)),
                        ),
                        variant="pro",
                    ),
                    Rule(
                        constraints=(
                            Constraint(
                                attribute="plan", operator=Operator.IN, values=("pro", "team")
                            ),
                        ),
                        variant="team",
                    ),
                ),
            )
        },
    )
    validate_flag(made, set())
    evaluator = FlagSet([made], []).evaluator(ENV)

    assert evaluator.value("banner", EvaluationContext(plan="pro")) == "Hello, Pro"
    assert evaluator.value("banner", EvaluationContext(plan="team")) == "Hello, Team"
    free = evaluator.evaluate("banner", EvaluationContext(plan="free"))
    assert (free.value, free.variant, free.reason) == ("Hello", "plain", Reason.DEFAULT)


def test_a_disabled_flag_serves_its_off_variant() -> None:
    made = flag(enabled=False, rules=(Rule(),), default_variant="on")

    result = FlagSet([made], []).evaluator(ENV).evaluate(made.key, EvaluationContext())

    assert (result.value, result.reason) == (False, Reason.DISABLED)


def test_an_archived_flag_is_disabled() -> None:
    import msgspec

    made = msgspec.structs.replace(flag(enabled=True, default_variant="on"), archived_at=T0)

    assert FlagSet([made], []).evaluator(ENV).evaluate(made.key).reason is Reason.DISABLED


def test_each_environment_has_its_own_configuration_and_default() -> None:
    made = with_default_variants(
        Flag(
            key="beta",
            environments={
                "development": EnvironmentConfig(enabled=True, default_variant="on"),
                "production": EnvironmentConfig(enabled=True, default_variant="off"),
            },
        )
    )
    flags = Flags(lambda: FlagSet([made], []), "production")

    assert flags.is_enabled("beta") is False
    assert flags.is_enabled("beta", EvaluationContext(environment="development")) is True
    assert flags.is_enabled("beta", EvaluationContext(environment="test")) is False  # unset: off


def test_an_unknown_flag_answers_the_callers_default() -> None:
    flags = Flags(lambda: None, ENV)

    assert flags.is_enabled("nope", default=True) is True
    assert flags.value("nope", default="x") == "x"
    assert flags.evaluate("nope").reason is Reason.NOT_FOUND


def test_is_enabled_of_a_non_boolean_flag_answers_the_default() -> None:
    made = Flag(
        key="limit",
        value_type=ValueType.NUMBER,
        variants=(Variant(key="low", value=10), Variant(key="high", value=100)),
        off_variant="low",
        environments={ENV: EnvironmentConfig(enabled=True, default_variant="high")},
    )
    evaluator = FlagSet([made], []).evaluator(ENV)

    assert evaluator.is_enabled("limit", default=True) is True
    assert evaluator.value("limit") == 100


# --- rollouts and splits -----------------------------------------------------------------


def rollout(percent: int, stickiness: str = "user_id") -> Flag:
    return flag(enabled=True, rules=(Rule(rollout=percent, stickiness=stickiness),))


USERS = [f"usr_{i:05d}" for i in range(4000)]


def included(made: Flag) -> set[str]:
    evaluator = FlagSet([made], []).evaluator(ENV)
    return {u for u in USERS if evaluator.is_enabled(made.key, EvaluationContext(user_id=u))}


def test_a_rollout_includes_about_its_percentage() -> None:
    assert abs(len(included(rollout(50))) / len(USERS) - 0.5) < 0.03
    assert included(rollout(0)) == set()
    assert included(rollout(100)) == set(USERS)


def test_raising_the_percentage_keeps_everyone_who_was_in() -> None:
    previous: set[str] = set()
    for percent in (1, 5, 10, 25, 50, 75, 99, 100):
        now_in = included(rollout(percent))
        assert previous <= now_in, f"someone left when going to {percent}%"
        previous = now_in


def test_the_same_user_gets_the_same_answer_every_time() -> None:
    made = rollout(30)
    first = included(made)

    assert included(made) == first
    assert FlagSet([made], [], bucketing=Bucketing()).evaluator(ENV) is not None
    fresh = FlagSet([made], [], bucketing=Bucketing(cache_size=0)).evaluator(ENV)
    assert {u for u in USERS if fresh.is_enabled(made.key, EvaluationContext(user_id=u))} == first


def test_a_rollout_by_workspace_keeps_a_workspace_together() -> None:
    evaluator = FlagSet([rollout(50, "workspace_id")], []).evaluator(ENV)

    answers = {
        evaluator.is_enabled("new-checkout", EvaluationContext(user_id=u, workspace_id="ws_1"))
        for u in USERS[:200]
    }

    assert len(answers) == 1


def test_a_partial_rollout_without_its_sticky_value_leaves_the_caller_out() -> None:
    result = FlagSet([rollout(99)], []).evaluator(ENV).evaluate("new-checkout")

    assert result.reason is Reason.DEFAULT


def test_variants_split_by_weight() -> None:
    made = Flag(
        key="pricing-page",
        kind=FlagKind.EXPERIMENT,
        value_type=ValueType.JSON,
        variants=(
            Variant(key="control", value={"layout": "a"}, weight=50),
            Variant(key="wide", value={"layout": "b"}, weight=30),
            Variant(key="tall", value={"layout": "c"}, weight=20),
        ),
        off_variant="control",
        environments={ENV: EnvironmentConfig(enabled=True, rules=(Rule(),))},
    )
    validate_flag(made, set())
    evaluator = FlagSet([made], []).evaluator(ENV)

    counts = Counter(
        evaluator.evaluate("pricing-page", EvaluationContext(user_id=u)).variant for u in USERS
    )

    for variant, share in [("control", 0.5), ("wide", 0.3), ("tall", 0.2)]:
        assert abs(counts[variant] / len(USERS) - share) < 0.03
    again = evaluator.evaluate("pricing-page", EvaluationContext(user_id=USERS[0]))
    assert again.reason is Reason.ROLLOUT
    assert (
        again.variant
        == evaluator.evaluate("pricing-page", EvaluationContext(user_id=USERS[0])).variant
    )


# --- lifetimes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "days", "stale"),
    [
        (FlagKind.RELEASE, 39, False),
        (FlagKind.RELEASE, 40, True),
        (FlagKind.EXPERIMENT, 41, True),
        (FlagKind.OPERATIONAL, 6, False),
        (FlagKind.OPERATIONAL, 7, True),
        (FlagKind.PERMISSION, 3650, False),
        (FlagKind.KILL_SWITCH, 3650, False),
    ],
)
def test_a_flag_past_its_kinds_lifetime_is_stale(kind: FlagKind, days: int, stale: bool) -> None:
    made = Flag(key="x", kind=kind, created_at=T0)

    assert made.is_stale(T0 + timedelta(days=days)) is stale


def test_an_evaluation_says_when_its_flag_is_stale() -> None:
    made = flag(enabled=True, default_variant="on")
    now = T0 + timedelta(days=41)
    flags = Flags(lambda: FlagSet([made], []), ENV, lambda: now)

    assert flags.evaluate(made.key).stale is True
    assert flags.evaluate(made.key).value is True  # a stale flag still evaluates


# --- definitions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"off_variant": "nope"}, "off_variant"),
        ({"variants": (Variant(key="on", value=1), Variant(key="off", value=False))}, "boolean"),
        ({"environments": {"staging": EnvironmentConfig()}}, "unknown environment"),
        ({"environments": {ENV: EnvironmentConfig(default_variant="maybe")}}, "variant"),
    ],
)
def test_a_definition_that_does_not_hold_together_is_refused(
    changes: dict[str, Any], message: str
) -> None:
    import msgspec

    broken = msgspec.structs.replace(flag(), **changes)

    with pytest.raises(FlagDefinitionError, match=message):
        validate_flag(broken, set())


@pytest.mark.parametrize(
    ("operator", "values"),
    [
        (Operator.NUM_GT, ("ten",)),
        (Operator.SEMVER_GT, ("1.2",)),
        (Operator.REGEX, ("(",)),
        (Operator.EQUALS, ("a", "b")),
        (Operator.IN, ()),
    ],
)
def test_a_constraint_whose_values_do_not_parse_is_refused(
    operator: Operator, values: tuple[str, ...]
) -> None:
    with pytest.raises(FlagDefinitionError):
        when(Constraint(attribute="x", operator=operator, values=values))


def test_semver_precedence() -> None:
    ordered = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.10.0",
        "2.0.0",
    ]
    keys = [parse_semver(v) for v in ordered]

    assert keys == sorted(keys)  # type: ignore[type-var]
    assert parse_semver("1.0.0+build.5") == parse_semver("1.0.0")
