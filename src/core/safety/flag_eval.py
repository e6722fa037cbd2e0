"""Evaluating flags in-process, from a snapshot compiled once per change.

``FlagSet`` is the snapshot (every flag and segment as stored); ``FlagSet.evaluator(env)``
compiles one environment's configuration into closures and tables, once, so that an
evaluation is a few dictionary look-ups and calls: overrides first, then the rules in
order (their constraints, their segments' constraints, then the rollout), then the
default. A disabled or archived flag serves its off variant.

Bucketing is Unleash's: ``murmur3_32(f"{flag}:{sticky value}", seed=0) % 100 + 1``, in
the rollout when it is at most the percentage, so raising the percentage keeps everyone
who was in. A split between variants hashes the same string with seed 86028157 over the
total weight. ``Bucketing`` caches both per (flag, value), so the hash runs once per user
and flag in a process; the hash itself is pure Python unless one is injected.
"""

from __future__ import annotations

import enum
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

import msgspec

from core.safety.flags import (
    Constraint,
    EnvironmentConfig,
    Flag,
    Operator,
    Rule,
    Segment,
    SemverKey,
    ValueType,
    parse_semver,
)
from core.safety.murmur3 import Hash32, murmur3_32

VARIANT_SEED = 86028157  # Unleash's seed for variant splits
CACHE_SIZE = 1 << 16


class Reason(enum.StrEnum):
    """Why a flag has its value, after OpenFeature's reasons."""

    OVERRIDE = "override"  # an individual override (OpenFeature: TARGETING_MATCH)
    RULE = "rule"  # a rule's constraints matched (TARGETING_MATCH)
    ROLLOUT = "rollout"  # in a rule's percentage rollout (SPLIT)
    DEFAULT = "default"  # no rule matched: the environment's default (DEFAULT)
    DISABLED = "disabled"  # off in this environment, or archived (DISABLED)
    NOT_FOUND = "not_found"  # no such flag: the caller's default (ERROR)


class EvaluationContext(msgspec.Struct, frozen=True, kw_only=True):
    """Who is asking. ``environment`` defaults to the evaluator's (the app's)."""

    user_id: str | None = None
    workspace_id: str | None = None
    plan: str | None = None
    environment: str | None = None
    attributes: dict[str, Any] = msgspec.field(default_factory=dict)


class Evaluation(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    value: Any
    variant: str | None
    reason: Reason
    rule: int | None = None  # which rule (0-based) when the reason is rule or rollout
    value_type: ValueType | None = None
    stale: bool = False


class Bucketing:
    """Sticky bucket numbers, cached per (group, value): ``rollout_bucket`` in 1..100,
    ``split_point`` in 1..total. ``hash32`` is ``murmur3_32`` unless another is given."""

    def __init__(self, hash32: Hash32 = murmur3_32, cache_size: int = CACHE_SIZE) -> None:
        self.hash32 = hash32

        @lru_cache(maxsize=cache_size)
        def rollout_bucket(group: str, value: str) -> int:
            return hash32(f"{group}:{value}".encode(), 0) % 100 + 1

        @lru_cache(maxsize=cache_size)
        def split_point(group: str, value: str, total: int) -> int:
            return hash32(f"{group}:{value}".encode(), VARIANT_SEED) % total + 1

        self.rollout_bucket = rollout_bucket
        self.split_point = split_point


DEFAULT_BUCKETING = Bucketing()

Getter = Callable[[EvaluationContext], Any]
Matcher = Callable[[EvaluationContext], bool]
Served = tuple[str, Any]  # (variant, value)


def _as_text(value: Any) -> str:
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)


def attribute_getter(name: str) -> Getter:
    """The context's value of ``name`` (a built-in field or a custom attribute), as text
    (``None`` when missing)."""
    if name in ("user_id", "workspace_id", "plan", "environment"):
        return operator.attrgetter(name)

    def custom(ctx: EvaluationContext) -> str | None:
        value = ctx.attributes.get(name)
        return None if value is None else _as_text(value)

    return custom


_COMPARE = {
    "eq": operator.eq,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _test(constraint: Constraint) -> Callable[[str], bool]:
    """The test of a present value (already text)."""
    op, values = constraint.operator, constraint.values
    fold = constraint.case_insensitive
    if op in (Operator.EQUALS, Operator.NOT_EQUALS, Operator.IN, Operator.NOT_IN):
        wanted = frozenset(v.casefold() for v in values) if fold else frozenset(values)
        positive = op in (Operator.EQUALS, Operator.IN)
        if fold:
            return lambda v: (v.casefold() in wanted) is positive
        return lambda v: (v in wanted) is positive
    if op is Operator.REGEX:
        search = re.compile(values[0], re.IGNORECASE if fold else 0).search
        return lambda v: search(v) is not None
    compare = _COMPARE[op.value.split("_", 1)[1]]
    if op.value.startswith("num_"):
        bound = float(values[0])

        def numeric(v: str) -> bool:
            number = _number(v)
            return number is not None and bool(compare(number, bound))

        return numeric
    version = parse_semver(values[0])
    assert version is not None  # checked on save

    def semver(v: str) -> bool:
        parsed: SemverKey | None = parse_semver(v)
        return parsed is not None and bool(compare(parsed, version))

    return semver


def compile_constraint(constraint: Constraint) -> Matcher:
    get = attribute_getter(constraint.attribute)
    test = _test(constraint)
    when_missing = constraint.operator in (Operator.NOT_EQUALS, Operator.NOT_IN)
    if constraint.negate:
        when_missing = not when_missing

        def negated(ctx: EvaluationContext) -> bool:
            value = get(ctx)
            return when_missing if value is None else not test(value)

        return negated

    def matches(ctx: EvaluationContext) -> bool:
        value = get(ctx)
        return when_missing if value is None else test(value)

    return matches


Split = tuple[tuple[int, ...], tuple[Served, ...], int]  # (cumulative weights, variants, total)


class _CompiledRule:
    __slots__ = ("index", "matchers", "rollout", "served", "split", "sticky")

    def __init__(
        self,
        index: int,
        rule: Rule,
        flag: Flag,
        values: Mapping[str, Served],
        segments: Mapping[str, Segment],
    ) -> None:
        self.index = index
        self.rollout = rule.rollout
        self.sticky = attribute_getter(rule.stickiness)
        constraints = list(rule.constraints)
        for name in rule.segments:
            segment = segments.get(name)
            if segment is None:  # refused on save; never matches if it happens anyway
                self.rollout = 0
                break
            constraints.extend(segment.constraints)
        self.matchers = tuple(compile_constraint(c) for c in constraints)
        self.served: Served | None = None
        self.split: Split | None = None
        if rule.variant is not None:
            self.served = values[rule.variant]
        elif flag.value_type is ValueType.BOOLEAN:
            self.served = values["on"]
        else:
            weighted = [(v.weight, values[v.key]) for v in flag.variants if v.weight > 0]
            bounds, running = [], 0
            for weight, _ in weighted:
                running += weight
                bounds.append(running)
            self.split = (tuple(bounds), tuple(s for _, s in weighted), running)


class _CompiledFlag:
    __slots__ = ("default", "enabled", "flag", "key", "off", "overrides", "rules")

    def __init__(self, flag: Flag, env: str, segments: Mapping[str, Segment]) -> None:
        config: EnvironmentConfig = flag.environment(env)
        values = {v.key: (v.key, v.value) for v in flag.variants}
        self.flag = flag
        self.key = flag.key
        self.enabled = config.enabled and not flag.archived
        self.off: Served = values.get(flag.off_variant, (flag.off_variant, None))
        self.default: Served = values.get(config.default_variant or "", self.off)
        tables: dict[str, dict[str, Served]] = {}
        for override in config.overrides:
            table = tables.setdefault(override.attribute, {})
            for value in override.values:
                table.setdefault(value, values[override.variant])
        self.overrides = tuple((attribute_getter(a), t) for a, t in tables.items())
        self.rules = tuple(
            _CompiledRule(i, rule, flag, values, segments) for i, rule in enumerate(config.rules)
        )


class FlagEvaluator:
    """One environment's flags, compiled. ``evaluate`` answers an ``Evaluation``;
    ``is_enabled`` and ``value`` are the short forms. Safe to share between tasks."""

    def __init__(
        self,
        flags: Iterable[Flag],
        segments: Mapping[str, Segment],
        environment: str,
        *,
        bucketing: Bucketing = DEFAULT_BUCKETING,
    ) -> None:
        self.environment = environment
        self._flags = {f.key: _CompiledFlag(f, environment, segments) for f in flags}
        self._bucket = bucketing.rollout_bucket
        self._split = bucketing.split_point

    def keys(self) -> list[str]:
        return list(self._flags)

    def flag(self, key: str) -> Flag | None:
        compiled = self._flags.get(key)
        return compiled.flag if compiled is not None else None

    def _resolve(
        self, flag: _CompiledFlag, ctx: EvaluationContext
    ) -> tuple[Served, Reason, int | None]:
        if not flag.enabled:
            return flag.off, Reason.DISABLED, None
        for get, table in flag.overrides:
            value = get(ctx)
            if value is not None and (hit := table.get(value)) is not None:
                return hit, Reason.OVERRIDE, None
        for rule in flag.rules:
            for matches in rule.matchers:
                if not matches(ctx):
                    break
            else:
                reason = Reason.RULE
                if rule.rollout < 100:
                    sticky = rule.sticky(ctx)
                    if sticky is None or self._bucket(flag.key, sticky) > rule.rollout:
                        continue  # outside the rollout (0%: never in)
                    reason = Reason.ROLLOUT
                if rule.served is not None:
                    return rule.served, reason, rule.index
                return self._split_by_weight(flag.key, rule, ctx), Reason.ROLLOUT, rule.index
        return flag.default, Reason.DEFAULT, None

    def _split_by_weight(self, key: str, rule: _CompiledRule, ctx: EvaluationContext) -> Served:
        assert rule.split is not None
        bounds, served, total = rule.split
        sticky = rule.sticky(ctx)
        if sticky is None:  # nothing to split on: the first variant
            return served[0]
        point = self._split(key, sticky, total)
        for bound, choice in zip(bounds, served, strict=True):
            if point <= bound:
                return choice
        return served[-1]

    def evaluate(
        self, key: str, ctx: EvaluationContext | None = None, *, now: datetime | None = None
    ) -> Evaluation:
        """The flag's value, variant and why; ``stale`` is told when ``now`` is given."""
        flag = self._flags.get(key)
        if flag is None:
            return Evaluation(key=key, value=None, variant=None, reason=Reason.NOT_FOUND)
        (variant, value), reason, rule = self._resolve(flag, ctx or _EMPTY)
        return Evaluation(
            key=key,
            value=value,
            variant=variant,
            reason=reason,
            rule=rule,
            value_type=flag.flag.value_type,
            stale=now is not None and flag.flag.is_stale(now),
        )

    def is_enabled(
        self, key: str, ctx: EvaluationContext | None = None, default: bool = False
    ) -> bool:
        """A boolean flag's value (``default`` for an unknown flag or another type)."""
        flag = self._flags.get(key)
        if flag is None:
            return default
        value = self._resolve(flag, ctx or _EMPTY)[0][1]
        return value if value is True or value is False else default

    def value(self, key: str, ctx: EvaluationContext | None = None, default: Any = None) -> Any:
        flag = self._flags.get(key)
        if flag is None:
            return default
        return self._resolve(flag, ctx or _EMPTY)[0][1]


_EMPTY = EvaluationContext()


class FlagSet:
    """The flags snapshot: every flag and segment as stored, and a compiled evaluator per
    environment (made on first use; ``FlagSet``s are replaced, never changed)."""

    def __init__(
        self,
        flags: Iterable[Flag],
        segments: Iterable[Segment],
        *,
        bucketing: Bucketing = DEFAULT_BUCKETING,
    ) -> None:
        self.flags: dict[str, Flag] = {f.key: f for f in flags}
        self.segments: dict[str, Segment] = {s.key: s for s in segments}
        self._bucketing = bucketing
        self._evaluators: dict[str, FlagEvaluator] = {}

    def evaluator(self, environment: str) -> FlagEvaluator:
        found = self._evaluators.get(environment)
        if found is None:  # compiled on first use, once per environment
            found = FlagEvaluator(
                self.flags.values(),
                self.segments,
                environment,
                bucketing=self._bucketing,
            )
            self._evaluators[environment] = found
        return found


class Flags:
    """What application code asks: the process's current flags snapshot (``current``,
    from ``Snapshots``), evaluated in the app's environment unless the context names
    another. Before the first snapshot every flag answers the caller's default."""

    def __init__(
        self,
        current: Callable[[], FlagSet | None],
        environment: str,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self._current = current
        self.environment = environment
        self._now = now

    def evaluator(self, environment: str | None = None) -> FlagEvaluator:
        snapshot = self._current() or _NO_FLAGS
        return snapshot.evaluator(environment or self.environment)

    def evaluate(self, key: str, ctx: EvaluationContext | None = None) -> Evaluation:
        now = self._now() if self._now is not None else None
        return self.evaluator(ctx.environment if ctx else None).evaluate(key, ctx, now=now)

    def is_enabled(
        self, key: str, ctx: EvaluationContext | None = None, default: bool = False
    ) -> bool:
        snapshot = self._current()  # the hot path: as few calls as it takes
        if snapshot is None:
            return default
        env = (ctx.environment if ctx is not None else None) or self.environment
        return snapshot.evaluator(env).is_enabled(key, ctx, default)

    def value(self, key: str, ctx: EvaluationContext | None = None, default: Any = None) -> Any:
        return self.evaluator(ctx.environment if ctx else None).value(key, ctx, default)

    def evaluate_all(
        self, ctx: EvaluationContext, *, client_visible_only: bool = True
    ) -> list[Evaluation]:
        """Every live flag for ``ctx`` (only the client-visible ones by default)."""
        evaluator = self.evaluator(ctx.environment)
        now = self._now() if self._now is not None else None
        found = []
        for key in sorted(evaluator.keys()):
            flag = evaluator.flag(key)
            if flag is None or flag.archived or (client_visible_only and not flag.client_visible):
                continue
            found.append(evaluator.evaluate(key, ctx, now=now))
        return found


_NO_FLAGS = FlagSet((), ())
