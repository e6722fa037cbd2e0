"""Feature flags: what a flag is, per environment (docs/systems/safety/flags.md).

A flag has a kind (which sets its expected lifetime), a value type and variants (a
boolean flag's are ``on``/``off``). Each environment (``development``, ``test``,
``production``) has its own configuration: on or off, individual overrides, rules tried
in order (constraints on user, workspace, plan, environment and custom attributes, reused
segments, a percentage rollout with sticky bucketing) and the default variant. A
disabled or archived flag serves its ``off_variant``.

``validate_flag`` checks a definition whole before it is stored (variants, values of the
right type, rules naming known variants and segments, operators' values that parse).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Annotated, Any

import msgspec

from core.kernel import ValidationError
from core.kernel.events import AwareDatetime

KEY_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,99}$"
Key = Annotated[str, msgspec.Meta(pattern=KEY_PATTERN)]
ENVIRONMENTS = ("development", "test", "production")
BUILTIN_ATTRIBUTES = ("user_id", "workspace_id", "plan", "environment")


class FlagKind(enum.StrEnum):
    RELEASE = "release"  # a feature being rolled out: removed once it is everyone's
    EXPERIMENT = "experiment"  # an A/B test: removed once decided
    OPERATIONAL = "operational"  # a temporary operational toggle (a migration, a load test)
    PERMISSION = "permission"  # who may use a feature: lives as long as the feature
    KILL_SWITCH = "kill_switch"  # turns a capability off in trouble: lives for ever


# How long a flag of each kind is expected to live from its creation, as Unleash counts
# them: release and experiment 40 days, operational 7 days; permission flags and kill
# switches never go stale. Past it, the flag is reported stale (it still evaluates).
LIFETIMES: dict[FlagKind, timedelta | None] = {
    FlagKind.RELEASE: timedelta(days=40),
    FlagKind.EXPERIMENT: timedelta(days=40),
    FlagKind.OPERATIONAL: timedelta(days=7),
    FlagKind.PERMISSION: None,
    FlagKind.KILL_SWITCH: None,
}


class ValueType(enum.StrEnum):
    BOOLEAN = "boolean"
    STRING = "string"
    NUMBER = "number"
    JSON = "json"


class Operator(enum.StrEnum):
    EQUALS = "equals"  # one value
    NOT_EQUALS = "not_equals"
    IN = "in"  # any of the values
    NOT_IN = "not_in"
    REGEX = "regex"  # re.search of one pattern
    NUM_EQ = "num_eq"
    NUM_GT = "num_gt"
    NUM_GTE = "num_gte"
    NUM_LT = "num_lt"
    NUM_LTE = "num_lte"
    SEMVER_EQ = "semver_eq"
    SEMVER_GT = "semver_gt"
    SEMVER_GTE = "semver_gte"
    SEMVER_LT = "semver_lt"
    SEMVER_LTE = "semver_lte"


SINGLE_VALUE = frozenset(Operator) - {Operator.IN, Operator.NOT_IN}
NUMERIC = frozenset(o for o in Operator if o.value.startswith("num_"))
SEMVER = frozenset(o for o in Operator if o.value.startswith("semver_"))


class Constraint(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``attribute`` (``user_id``, ``workspace_id``, ``plan``, ``environment`` or a custom
    attribute's name) compared with ``values`` by ``operator``; ``negate`` inverts it.
    A missing attribute matches only ``not_equals`` and ``not_in``."""

    attribute: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    operator: Operator
    values: tuple[str, ...]
    case_insensitive: bool = False
    negate: bool = False


class Variant(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    key: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    value: Any
    weight: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 1  # share in a split


class Rule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Who gets what: everyone matching every constraint and every segment, and within
    them ``rollout`` percent (bucketed by ``stickiness``: an attribute, ``user_id`` by
    default). They get ``variant``, or for none the ``on`` variant of a boolean flag and
    a weighted split of the variants otherwise. Rules are tried in order."""

    name: Annotated[str, msgspec.Meta(max_length=100)] = ""
    constraints: tuple[Constraint, ...] = ()
    segments: tuple[Key, ...] = ()
    rollout: Annotated[int, msgspec.Meta(ge=0, le=100)] = 100
    stickiness: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] = "user_id"
    variant: str | None = None


class Override(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Individual targeting, before any rule: these users (or workspaces, or values of
    another attribute) get ``variant``."""

    attribute: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] = "user_id"
    values: tuple[str, ...]
    variant: str


class EnvironmentConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    enabled: bool = False
    overrides: tuple[Override, ...] = ()
    rules: tuple[Rule, ...] = ()
    default_variant: str | None = None  # none: the flag's off_variant


class Flag(msgspec.Struct, frozen=True, kw_only=True):
    key: Key
    description: str = ""
    kind: FlagKind = FlagKind.RELEASE
    value_type: ValueType = ValueType.BOOLEAN
    variants: tuple[Variant, ...] = ()
    off_variant: str = "off"
    client_visible: bool = False  # answered to front ends by GET /api/v1/flags
    environments: dict[str, EnvironmentConfig] = msgspec.field(default_factory=dict)
    version: int = 0
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None
    archived_at: AwareDatetime | None = None

    @property
    def archived(self) -> bool:
        return self.archived_at is not None

    def environment(self, name: str) -> EnvironmentConfig:
        return self.environments.get(name) or EnvironmentConfig()

    def stale_at(self) -> datetime | None:
        """When the flag outlives its kind's expected lifetime (``None``: never)."""
        lifetime = LIFETIMES[self.kind]
        if lifetime is None or self.created_at is None:
            return None
        return self.created_at + lifetime

    def is_stale(self, now: datetime) -> bool:
        at = self.stale_at()
        return not self.archived and at is not None and now >= at

    def variant(self, key: str) -> Variant | None:
        return next((v for v in self.variants if v.key == key), None)


class Segment(msgspec.Struct, frozen=True, kw_only=True):
    """Constraints with a name, reused by the rules of any flag."""

    key: Key
    description: str = ""
    constraints: tuple[Constraint, ...] = ()
    version: int = 0
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None


BOOLEAN_VARIANTS = (
    Variant(key="on", value=True, weight=1),
    Variant(key="off", value=False, weight=0),
)


class FlagDefinitionError(ValidationError):
    type = "safety/invalid-flag"
    title = "The flag's definition is not valid."


def with_default_variants(flag: Flag) -> Flag:
    """A boolean flag without variants gets ``on`` and ``off``."""
    if flag.value_type is ValueType.BOOLEAN and not flag.variants:
        return msgspec.structs.replace(flag, variants=BOOLEAN_VARIANTS)
    return flag


def _fail(message: str, **where: Any) -> None:
    raise FlagDefinitionError(message, **where)


def _check_value(flag: Flag, variant: Variant) -> None:
    value, kind = variant.value, flag.value_type
    ok = (
        (kind is ValueType.BOOLEAN and isinstance(value, bool))
        or (kind is ValueType.STRING and isinstance(value, str))
        or (
            kind is ValueType.NUMBER
            and isinstance(value, int | float)
            and not isinstance(value, bool)
        )
        or kind is ValueType.JSON
    )
    if not ok:
        _fail(f"variant {variant.key!r}: a {kind} flag's value, not {value!r}")


def validate_constraint(constraint: Constraint) -> None:
    op, values = constraint.operator, constraint.values
    if not values:
        _fail(f"{constraint.attribute} {op}: give at least one value")
    if op in SINGLE_VALUE and len(values) != 1:
        _fail(f"{constraint.attribute} {op}: takes exactly one value")
    if op in NUMERIC:
        try:
            float(values[0])
        except ValueError:
            _fail(f"{constraint.attribute} {op}: {values[0]!r} is not a number")
    if op in SEMVER and parse_semver(values[0]) is None:
        _fail(f"{constraint.attribute} {op}: {values[0]!r} is not a semantic version")
    if op is Operator.REGEX:
        try:
            re.compile(values[0])
        except re.error as exc:
            _fail(f"{constraint.attribute} regex: {exc}")


def validate_flag(flag: Flag, segments: Collection[str]) -> None:
    """Raise ``FlagDefinitionError`` unless ``flag`` is whole and consistent."""
    keys = [v.key for v in flag.variants]
    if not keys:
        _fail("a flag needs variants (a boolean flag gets on and off)")
    if len(set(keys)) != len(keys):
        _fail("variant keys must be unique")
    if flag.value_type is ValueType.BOOLEAN and sorted(keys) != ["off", "on"]:
        _fail("a boolean flag's variants are on (true) and off (false)")
    for variant in flag.variants:
        _check_value(flag, variant)
    if flag.value_type is ValueType.BOOLEAN and any(
        v.value is not (v.key == "on") for v in flag.variants
    ):
        _fail("a boolean flag's on variant is true and its off variant false")
    if flag.off_variant not in keys:
        _fail(f"off_variant {flag.off_variant!r} is not one of the variants {keys}")
    for env, config in flag.environments.items():
        _validate_environment(flag, env, config, keys, segments)


def _validate_environment(
    flag: Flag, env: str, config: EnvironmentConfig, keys: list[str], segments: Collection[str]
) -> None:
    if env not in ENVIRONMENTS:
        _fail(f"unknown environment {env!r} (there are {', '.join(ENVIRONMENTS)})")
    named = [config.default_variant] if config.default_variant else []
    named += [o.variant for o in config.overrides]
    named += [r.variant for r in config.rules if r.variant is not None]
    for key in named:
        if key not in keys:
            _fail(f"{env}: variant {key!r} is not one of {keys}", environment=env)
    for rule in config.rules:
        for constraint in rule.constraints:
            validate_constraint(constraint)
        for segment in rule.segments:
            if segment not in segments:
                _fail(f"{env}: no segment {segment!r}", environment=env)
    if (
        any(r.variant is None for r in config.rules)
        and flag.value_type is not ValueType.BOOLEAN
        and not any(v.weight for v in flag.variants)
    ):
        _fail(f"{env}: a rule splits by weight but every variant weighs 0")


def validate_segment(segment: Segment) -> None:
    for constraint in segment.constraints:
        validate_constraint(constraint)


# --- semantic versions -----------------------------------------------------------------

_SEMVER = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?$"
)

SemverKey = tuple[int, int, int, tuple[tuple[int, int, str], ...]]


def parse_semver(text: str) -> SemverKey | None:
    """A key that orders versions by semver precedence (build metadata ignored; a
    pre-release sorts before its release), or ``None`` for text that is not one."""
    found = _SEMVER.match(text.strip())
    if found is None:
        return None
    major, minor, patch, pre = found.groups()
    if pre is None:
        tail: tuple[tuple[int, int, str], ...] = ((1, 0, ""),)
    else:
        tail = tuple(
            (0, int(part), "") if part.isdigit() else (0, 1 << 62, part) for part in pre.split(".")
        )
    return int(major), int(minor), int(patch), tail
