"""In-process flag evaluations per second: ours against Unleash's and Flagsmith's SDKs.

The rule is the same on every side: a boolean flag ``new-checkout``, on for users whose
``plan`` is in (pro, team), for 50% of them by a sticky rollout on the user id. Every
context is on the pro plan, so each call checks the constraint and then the rollout.

- ours: ``container.safety.flags().is_enabled`` as application code calls it: the
  process's ``Flags`` over its ``Snapshots`` (the real wiring, ``flag_reader``), the
  compiled snapshot (``core.safety.flag_eval``), pure-Python murmur3 with the bucket
  cache (the hash runs once per user and flag in a process). Also shown, not judged: the
  compiled evaluator called directly, and the cache off (a new user on every call) with
  the pure-Python hash and with the C hash of ``mmh3`` injected.
- Unleash: ``UnleashClient.is_enabled`` (the ``UnleashClient`` package, its Rust engine),
  bootstrapped offline from a features dict through its ``FileCache``, metrics and
  registration off, never initialized against a server: no network.
- Flagsmith: local evaluation of ``Flagsmith.get_identity_flags(...).is_feature_enabled``
  in offline mode from an environment document (a segment with an ``IN`` condition and a
  ``PERCENTAGE_SPLIT`` of 50, overriding the feature to on).

First the three are checked to agree: ours and Unleash's must give every user the same
answer (the same murmur3 buckets), and each side must include 50% +- 3% of the users.
Then rounds: each side evaluates the same cycle of ``USERS`` contexts (built beforehand,
in each SDK's own shape) for ``CALLS`` calls, the sides in turns, alternating the order.
The figure per side is the median over rounds of microseconds per call; the ratios are
theirs over ours (how many of our calls fit in one of theirs). Goals: at least 10x
Unleash and 4x Flagsmith.

``python -m bench flags`` or ``python -m bench.flags [--rounds R] [--calls N]``.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import logging
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import RESULTS_DIR, Options, warn_if_busy, write_results

GOAL_UNLEASH = 10.0
GOAL_FLAGSMITH = 4.0
KEY = "new-checkout"
PLANS = ("pro", "team")
ROLLOUT = 50
USERS = 10_000
CALLS = 200_000

Call = Callable[[], bool]


def user_ids(count: int = USERS) -> list[str]:
    return [f"usr_{n:06d}" for n in range(count)]


# -- the three sides, each set up with the same rule ---------------------------------------


def ours(hash32: Callable[[bytes, int], int] | None = None, cache: bool = True) -> Any:
    """Our evaluator for the rule (``hash32``: another hash; ``cache``: bucket cache)."""
    from core.safety.flag_eval import Bucketing, FlagSet
    from core.safety.flags import (
        Constraint,
        EnvironmentConfig,
        Flag,
        Operator,
        Rule,
        validate_flag,
        with_default_variants,
    )

    rule = Rule(
        constraints=(Constraint(attribute="plan", operator=Operator.IN, values=PLANS),),
        rollout=ROLLOUT,
        stickiness="user_id",
    )
    flag = with_default_variants(
        Flag(key=KEY, environments={"production": EnvironmentConfig(enabled=True, rules=(rule,))})
    )
    validate_flag(flag, set())
    bucketing = Bucketing(
        **({"hash32": hash32} if hash32 else {}), cache_size=65536 if cache else 0
    )
    return FlagSet([flag], [], bucketing=bucketing).evaluator("production")


def our_contexts(users: Sequence[str]) -> list[Any]:
    from core.safety.flag_eval import EvaluationContext

    return [EvaluationContext(user_id=u, plan="pro") for u in users]


UNLEASH_FEATURES = {
    "version": 2,
    "features": [
        {
            "name": KEY,
            "type": "release",
            "enabled": True,
            "strategies": [
                {
                    "name": "flexibleRollout",
                    "parameters": {"rollout": str(ROLLOUT), "stickiness": "userId", "groupId": KEY},
                    "constraints": [
                        {"contextName": "plan", "operator": "IN", "values": list(PLANS)}
                    ],
                }
            ],
        }
    ],
}


@contextlib.contextmanager
def unleash(folder: Path) -> Iterator[Any]:
    """``UnleashClient`` bootstrapped from ``UNLEASH_FEATURES``, offline."""
    from UnleashClient import UnleashClient
    from UnleashClient.cache import FileCache

    cache = FileCache("ninefold-bench", directory=str(folder))
    cache.bootstrap_from_dict(UNLEASH_FEATURES)
    client = UnleashClient(
        url="http://127.0.0.1:9/api",  # never called: not initialized, bootstrapped
        app_name="ninefold-bench",
        disable_metrics=True,
        disable_registration=True,
        cache=cache,
    )
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):
            client.destroy()


def unleash_contexts(users: Sequence[str]) -> list[dict[str, Any]]:
    return [{"userId": u, "properties": {"plan": "pro"}} for u in users]


def flagsmith_document() -> dict[str, Any]:
    feature = {"id": 1, "name": KEY}
    return {
        "api_key": "ninefold-bench",
        "name": "bench",
        "identity_overrides": [],
        "feature_states": [
            {
                "enabled": False,
                "feature_state_value": None,
                "feature": feature,
                "featurestate_uuid": "fs-default",
                "multivariate_feature_state_values": [],
            }
        ],
        "project": {
            "segments": [
                {
                    "id": 1,
                    "name": "paying-half",
                    "rules": [
                        {
                            "type": "ALL",
                            "rules": [],
                            "conditions": [
                                {"operator": "IN", "property_": "plan", "value": ",".join(PLANS)},
                                {
                                    "operator": "PERCENTAGE_SPLIT",
                                    "property_": "",
                                    "value": str(ROLLOUT),
                                },
                            ],
                        }
                    ],
                    "feature_states": [
                        {
                            "enabled": True,
                            "feature_state_value": None,
                            "feature": feature,
                            "featurestate_uuid": "fs-segment",
                            "feature_segment": {"priority": 0},
                            "multivariate_feature_state_values": [],
                        }
                    ],
                }
            ]
        },
    }


def flagsmith(folder: Path) -> Any:
    """A ``Flagsmith`` client evaluating locally from ``flagsmith_document()``, offline."""
    from flagsmith import Flagsmith
    from flagsmith.offline_handlers import LocalFileHandler

    path = folder / "flagsmith-environment.json"
    path.write_text(json.dumps(flagsmith_document()))
    return Flagsmith(offline_mode=True, offline_handler=LocalFileHandler(str(path)))


# -- measuring -----------------------------------------------------------------------------


@dataclass
class Side:
    name: str
    judged: bool
    call: Callable[[Any], bool]
    contexts: list[Any]
    samples: list[float] = field(default_factory=list)  # microseconds per call, per round

    @property
    def micros(self) -> float:
        return statistics.median(self.samples)


def time_calls(call: Callable[[Any], bool], contexts: Sequence[Any], calls: int) -> float:
    """Microseconds per call of ``call`` over ``calls`` contexts taken in a cycle."""
    cycle = itertools.islice(itertools.cycle(contexts), calls)
    start = time.perf_counter()
    for context in cycle:
        call(context)
    return (time.perf_counter() - start) / calls * 1e6


def check(sides: dict[str, Side], users: Sequence[str]) -> list[str]:
    """Problems that would make the comparison unfair (empty when none)."""
    problems = []
    answers = {name: [side.call(c) for c in side.contexts] for name, side in sides.items()}
    for name, found in answers.items():
        share = sum(found) / len(users)
        if abs(share - ROLLOUT / 100) > 0.03:
            problems.append(f"{name} includes {share:.1%} of the users, not about {ROLLOUT}%")
    if answers["ours"] != answers["unleash"]:
        differ = sum(a != b for a, b in zip(answers["ours"], answers["unleash"], strict=True))
        problems.append(f"ours and Unleash disagree on {differ} users (the buckets differ)")
    return problems


def as_the_app_reads_it(evaluator: Any) -> Any:
    """``Flags`` over a loaded ``Snapshots``, wired as the container wires it."""
    import asyncio
    from types import SimpleNamespace

    from core.safety.flag_eval import FlagSet
    from core.safety.snapshots import Snapshots, Topic
    from entrypoints.safety.flags_wiring import flag_reader

    snapshot = FlagSet([evaluator.flag(KEY)], [])

    async def versions() -> dict[str, int]:
        return {Topic.FLAGS.value: 1}

    async def load() -> FlagSet:
        return snapshot

    snapshots = Snapshots(versions, {Topic.FLAGS: load})
    asyncio.run(snapshots.refresh())
    clock = SimpleNamespace(now=lambda: None)
    return flag_reader(snapshots, SimpleNamespace(env="production"), clock)  # type: ignore[arg-type]


def build_sides(folder: Path, stack: contextlib.ExitStack, users: Sequence[str]) -> dict[str, Side]:
    import mmh3

    ours_contexts = our_contexts(users)
    warm = ours()
    app = as_the_app_reads_it(warm)
    cold = ours(cache=False)
    cold_c = ours(hash32=lambda data, seed: mmh3.hash(data, seed, signed=False), cache=False)
    client = stack.enter_context(unleash(folder))
    smith = flagsmith(folder)

    def flagsmith_call(user: str) -> bool:
        return bool(smith.get_identity_flags(user, traits={"plan": "pro"}).is_feature_enabled(KEY))

    return {
        "ours": Side("ours", True, lambda c: app.is_enabled(KEY, c), ours_contexts),
        "ours, evaluator direct": Side(
            "ours, evaluator direct", False, lambda c: warm.is_enabled(KEY, c), ours_contexts
        ),
        "ours, cache off": Side(
            "ours, cache off", False, lambda c: cold.is_enabled(KEY, c), ours_contexts
        ),
        "ours, cache off, C hash": Side(
            "ours, cache off, C hash", False, lambda c: cold_c.is_enabled(KEY, c), ours_contexts
        ),
        "unleash": Side(
            "unleash", True, lambda c: bool(client.is_enabled(KEY, c)), unleash_contexts(users)
        ),
        "flagsmith": Side("flagsmith", True, flagsmith_call, list(users)),
    }


def measure(rounds: int, calls: int, users: int = USERS) -> tuple[dict[str, Side], list[str]]:
    ids = user_ids(users)
    logging.getLogger("UnleashClient").setLevel(logging.ERROR)
    with (
        tempfile.TemporaryDirectory(prefix="ninefold-bench-flags-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        sides = build_sides(Path(tmp), stack, ids)
        problems = check(sides, ids)
        if problems:
            return sides, problems
        order = list(sides.values())
        for side in order:  # warm-up: a pass over the users (fills our bucket cache)
            time_calls(side.call, side.contexts, min(calls, len(side.contexts)))
        for number in range(rounds):
            for side in order if number % 2 == 0 else reversed(order):
                # the slow SDKs get fewer calls for the same time; per-call figures compare
                share = calls if side.name.startswith("ours") else max(calls // 10, 1000)
                side.samples.append(time_calls(side.call, side.contexts, share))
    return sides, []


def report(sides: dict[str, Side], options: Options, calls: int, busy: float | None) -> int:
    ours_us = sides["ours"].micros
    print(f"\n  {'side':<26}{'us/call':>10}{'calls/s':>14}{'theirs/ours':>14}")
    for side in sides.values():
        ratio = side.micros / ours_us
        print(f"  {side.name:<26}{side.micros:>10.3f}{1e6 / side.micros:>14,.0f}{ratio:>13.1f}x")
    vs_unleash = sides["unleash"].micros / ours_us
    vs_flagsmith = sides["flagsmith"].micros / ours_us
    verdicts = {
        "unleash": vs_unleash >= GOAL_UNLEASH,
        "flagsmith": vs_flagsmith >= GOAL_FLAGSMITH,
    }
    print(
        f"\n  ours vs Unleash: {vs_unleash:.1f}x (goal >= {GOAL_UNLEASH:g}x: "
        f"{'met' if verdicts['unleash'] else 'NOT met'}); vs Flagsmith: {vs_flagsmith:.1f}x "
        f"(goal >= {GOAL_FLAGSMITH:g}x: {'met' if verdicts['flagsmith'] else 'NOT met'})"
    )
    path = write_results(
        options.results_dir,
        "flags",
        {
            "rule": f"plan in {list(PLANS)} and {ROLLOUT}% by user id",
            "users": len(sides["ours"].contexts),
            "calls_per_round": calls,
            "rounds": options.rounds,
            "machine_busy_before": busy,
            "sides": {
                s.name: {"micros_per_call": s.micros, "samples": s.samples, "judged": s.judged}
                for s in sides.values()
            },
            "ratio_vs_unleash": vs_unleash,
            "ratio_vs_flagsmith": vs_flagsmith,
            "goals": {"unleash": GOAL_UNLEASH, "flagsmith": GOAL_FLAGSMITH},
            "met": verdicts,
        },
    )
    print(f"  results: {path}")
    return 0


def run(options: Options, *, calls: int = CALLS) -> int:
    """Measure; 0 when measured (the verdicts are printed), 2 when it could not run."""
    print(
        f"\nninefold bench flags: in-process evaluations of one flag (plan in {list(PLANS)}, "
        f"{ROLLOUT}% by user id) over {USERS:,} users: ours vs UnleashClient.is_enabled vs "
        f"Flagsmith local evaluation, {options.rounds} rounds",
        flush=True,
    )
    busy = warn_if_busy()
    try:
        sides, problems = measure(options.rounds, calls)
    except ImportError as exc:
        print(f"error: {exc} (the dev dependencies: uv sync)")
        return 2
    if problems:
        for problem in problems:
            print(f"error: {problem}")
        return 2
    return report(sides, options, calls, busy)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.flags", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=CALLS, help="our calls per round")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    return run(Options(rounds=args.rounds, results_dir=args.results_dir), calls=args.calls)


if __name__ == "__main__":
    raise SystemExit(main())
