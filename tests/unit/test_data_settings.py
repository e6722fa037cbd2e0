"""Data export and deletion's settings: read from the environment and checked."""

from __future__ import annotations

import pytest

from entrypoints.settings import ConfigurationError, Settings, load_settings


def test_the_link_lasts_a_day_and_the_grace_period_thirty_days_by_default() -> None:
    settings = Settings()

    assert (settings.data_export_link_hours, settings.account_deletion_grace_days) == (24, 30)


def test_both_are_read_from_the_environment() -> None:
    settings = load_settings(
        {"NINEFOLD_DATA_EXPORT_LINK_HOURS": "2", "NINEFOLD_ACCOUNT_DELETION_GRACE_DAYS": "0"},
        env_file=None,
    )

    assert (settings.data_export_link_hours, settings.account_deletion_grace_days) == (2, 0)


@pytest.mark.parametrize(
    "env",
    [{"NINEFOLD_DATA_EXPORT_LINK_HOURS": "0"}, {"NINEFOLD_ACCOUNT_DELETION_GRACE_DAYS": "-1"}],
)
def test_a_link_of_no_time_or_a_negative_grace_period_is_refused(env: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_settings(env, env_file=None)

    assert "NINEFOLD_DATA_EXPORT_LINK_HOURS must be at least 1" in str(raised.value)
