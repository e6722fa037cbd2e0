"""The flags benchmark (bench/flags.py): the three sides agree on the rule, and a tiny
run measures each of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import flags
from bench.common import Options

pytest.importorskip("UnleashClient")
pytest.importorskip("flagsmith")


def test_the_three_sides_agree_and_are_measured(tmp_path: Path) -> None:
    sides, problems = flags.measure(rounds=1, calls=2000, users=2000)

    assert problems == []
    assert set(sides) >= {"ours", "unleash", "flagsmith"}
    assert all(len(side.samples) == 1 and side.samples[0] > 0 for side in sides.values())
    assert flags.report(sides, Options(rounds=1, results_dir=tmp_path), 2000, None) == 0
    assert len(list(tmp_path.glob("flags-*.json"))) == 1
