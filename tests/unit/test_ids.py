from datetime import UTC, datetime, timedelta

import pytest

from core.kernel import IdGenerator, is_valid_id

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def test_an_id_carries_its_kind_as_a_prefix() -> None:
    new_id = IdGenerator().new("usr", T0)

    assert new_id.startswith("usr_")
    assert is_valid_id(new_id, "usr")
    assert not is_valid_id(new_id, "ws")


def test_ids_sort_by_creation_time() -> None:
    ids = IdGenerator()
    earlier = ids.new("ws", T0)
    later = ids.new("ws", T0 + timedelta(milliseconds=1))

    assert earlier < later


def test_ids_made_in_the_same_millisecond_stay_ordered_and_distinct() -> None:
    ids = IdGenerator()
    made = [ids.new("evt", T0) for _ in range(1000)]

    assert made == sorted(made)
    assert len(set(made)) == 1000


def test_a_clock_stepping_back_does_not_break_the_order() -> None:
    ids = IdGenerator()
    first = ids.new("evt", T0)
    second = ids.new("evt", T0 - timedelta(seconds=5))

    assert first < second


def test_two_generators_do_not_collide() -> None:
    assert IdGenerator().new("usr", T0) != IdGenerator().new("usr", T0)


@pytest.mark.parametrize("prefix", ["", "x", "USR", "has_underscore", "waytoolongprefix"])
def test_a_malformed_prefix_is_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        IdGenerator().new(prefix, T0)


@pytest.mark.parametrize("value", ["usr_", "usr-01", "usr_" + "0" * 25, "usr_" + "u" * 26, "nope"])
def test_malformed_ids_are_recognised(value: str) -> None:
    assert not is_valid_id(value)
