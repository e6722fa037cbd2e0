"""contracts/events/ holds the current JSON Schema of every public domain event."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from core.identity import MemberAdded, WorkspaceRole
from entrypoints.contracts import PUBLIC_EVENTS, event_files

EVENTS = Path(__file__).resolve().parents[2] / "contracts" / "events"


def test_every_public_event_schema_in_contracts_is_current() -> None:
    expected = event_files(EVENTS)

    assert {path.name for path in EVENTS.glob("*.json")} == {path.name for path in expected}
    for path, text in expected.items():
        assert path.read_text() == text, f"{path.name} is stale: run 'make contracts'"


def test_public_event_names_are_unique_and_namespaced_by_system() -> None:
    names = [event.name for event in PUBLIC_EVENTS]

    assert len(names) == len(set(names))
    assert all(name.count(".") == 1 for name in names)


def test_an_event_time_must_carry_a_timezone() -> None:
    payload = (
        b'{"occurred_at":"2030-01-01T00:00:00","workspace_id":"ws_1","user_id":"u","role":"owner"}'
    )

    with pytest.raises(msgspec.ValidationError, match="timezone"):
        msgspec.json.decode(payload, type=MemberAdded)


def test_an_event_round_trips_through_its_wire_form() -> None:
    event = MemberAdded(
        occurred_at=datetime(2030, 1, 1, tzinfo=UTC),
        workspace_id="ws_1",
        user_id="usr_1",
        role=WorkspaceRole.ADMIN,
    )

    assert msgspec.json.decode(msgspec.json.encode(event), type=MemberAdded) == event
