"""``ninefold breakers list|show|force-open|force-closed|reset``, on SQLite and (with
``NINEFOLD_TEST_POSTGRES_URL``) PostgreSQL."""

from __future__ import annotations

import json

import pytest
from tests.cli.harness import Ninefold


@pytest.fixture
def migrated(ninefold: Ninefold) -> Ninefold:
    upgraded = ninefold("db", "upgrade")
    assert upgraded.code == 0, upgraded.err
    return ninefold


def test_list_shows_every_breaker_closed_with_its_runbook(migrated: Ninefold) -> None:
    listed = migrated("breakers", "list")
    as_json = migrated("breakers", "list", "--json")

    assert listed.code == 0, listed.err
    assert "payments" in listed.out
    assert "docs/runbooks/breakers/error-tracking.md" in listed.out
    shown = json.loads(as_json.out)
    assert [b["name"] for b in shown] == [
        "payments",
        "email",
        "media",
        "analytics",
        "error-tracking",
    ]
    assert {b["state"] for b in shown} == {"closed"}


def test_force_open_then_reset_is_kept_in_the_history(migrated: Ninefold) -> None:
    forced = migrated("breakers", "force-open", "payments", "--reason", "Stripe incident")
    again = migrated("breakers", "force-open", "payments", "--reason", "twice")
    shown = migrated("breakers", "show", "payments", "--json")

    assert forced.code == 0, forced.err
    assert forced.out.strip() == "payments forced open: Stripe incident"
    assert again.code == 1
    assert "already forced open" in again.err
    detail = json.loads(shown.out)
    assert detail["state"] == "forced_open"  # a new process obeys the stored override
    assert detail["override"]["kind"] == "forced_open"

    closed = migrated("breakers", "force-closed", "payments", "--reason", "misjudged")
    reset = migrated("breakers", "reset", "payments", "--reason", "incident over")
    text = migrated("breakers", "show", "payments")

    assert (closed.code, reset.code) == (0, 0)
    assert "state (this process): closed" in text.out
    assert "forced_closed" in text.out
    assert "incident over" in text.out


def test_a_change_needs_a_reason_and_a_known_breaker(migrated: Ninefold) -> None:
    blank = migrated("breakers", "force-open", "payments", "--reason", " ")
    unknown = migrated("breakers", "reset", "sms", "--reason", "why not")
    missing = migrated("breakers", "force-open", "payments")

    assert blank.code == 1
    assert "say why" in blank.err
    assert unknown.code == 1
    assert "no circuit breaker 'sms'" in unknown.err
    assert missing.code == 2
