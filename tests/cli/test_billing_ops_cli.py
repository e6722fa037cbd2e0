"""``ninefold billing sync`` and ``ninefold billing events``, on SQLite and (with
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


def test_sync_creates_the_catalog_prices_once(migrated: Ninefold) -> None:
    first = migrated("billing", "sync", "--json")
    again = migrated("billing", "sync", "--json")

    assert first.code == 0, first.err
    created = json.loads(first.out)
    keys = {row["key"] for row in created}
    assert "plan:pro:month:USD" in keys
    assert "product:credits-5000:EUR" in keys
    assert {row["state"] for row in created} == {"created"}
    repeated = json.loads(again.out)
    assert {row["state"] for row in repeated} == {"unchanged"}
    assert {r["key"]: r["price"] for r in repeated} == {r["key"]: r["price"] for r in created}


def test_events_list_and_replay_of_an_unknown_event(migrated: Ninefold) -> None:
    listed = migrated("billing", "events", "list", "--json")
    replay = migrated("billing", "events", "replay", "sandbox", "evt_nope")

    assert listed.code == 0, listed.err
    assert json.loads(listed.out) == []
    assert replay.code == 1
    assert "no stored sandbox event evt_nope" in replay.err
