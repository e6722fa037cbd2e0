from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.kernel import FixedClock, SystemClock


def test_the_system_clock_is_aware_utc() -> None:
    assert SystemClock().now().tzinfo is UTC


def test_a_fixed_clock_moves_only_when_told() -> None:
    clock = FixedClock(datetime(2030, 5, 1, tzinfo=UTC))
    assert clock.now() == clock.now()

    clock.advance(timedelta(days=14))

    assert clock.now() == datetime(2030, 5, 15, tzinfo=UTC)


def test_a_fixed_clock_refuses_naive_times_and_going_backwards() -> None:
    with pytest.raises(ValueError, match="aware"):
        FixedClock(datetime(2030, 1, 1))
    with pytest.raises(ValueError, match="forward"):
        FixedClock().advance(timedelta(seconds=-1))


def test_a_fixed_clock_reports_utc_whatever_zone_it_is_set_in() -> None:
    clock = FixedClock()
    clock.set(datetime(2030, 1, 1, 12, tzinfo=timezone(timedelta(hours=2))))

    assert clock.now() == datetime(2030, 1, 1, 10, tzinfo=UTC)
    assert clock.now().tzinfo is UTC
