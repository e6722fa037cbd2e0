"""The jobs settings: queue limits, leases, concurrency, SAQ's prefix."""

from __future__ import annotations

import pytest

from entrypoints.settings import ConfigurationError, load_settings


def test_queue_limits_are_read_from_one_variable() -> None:
    settings = load_settings(
        {"NINEFOLD_JOBS_QUEUE_LIMITS": "webhooks=8, events=16", "NINEFOLD_WORKER_QUEUES": "a,b"},
        env_file=None,
    )
    assert settings.queue_limits == {"webhooks": 8, "events": 16}
    assert settings.queues == ("a", "b")


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"NINEFOLD_JOBS_QUEUE_LIMITS": "webhooks"}, "'webhooks' is not <queue>=<limit>"),
        ({"NINEFOLD_JOBS_QUEUE_LIMITS": "Web Hooks=3"}, "is not <queue>=<limit>"),
        ({"NINEFOLD_JOBS_QUEUE_LIMITS": "webhooks=0"}, "is not <queue>=<limit>"),
        ({"NINEFOLD_JOBS_LEASE_SECONDS": "0.5"}, "NINEFOLD_JOBS_LEASE_SECONDS must be between"),
        ({"NINEFOLD_WORKER_CONCURRENCY": "0"}, "NINEFOLD_WORKER_CONCURRENCY must be at least 1"),
        ({"NINEFOLD_JOBS_RETENTION_DAYS": "0"}, "NINEFOLD_JOBS_RETENTION_DAYS and"),
        ({"NINEFOLD_SAQ_PREFIX": "no spaces"}, "NINEFOLD_SAQ_PREFIX must be 1-64"),
    ],
)
def test_bad_jobs_settings_say_what_to_fix(variables: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_settings(variables, env_file=None)
