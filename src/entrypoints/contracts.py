"""The machine-checked contracts in ``contracts/``: the OpenAPI document and the JSON
Schema of every domain event other systems and customers' webhooks may receive.

Each system lists its public events here; ``ninefold contracts`` writes the files and
a test fails when they are stale.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec

from core.identity import (
    EmailVerified,
    MemberAdded,
    MemberRemoved,
    MemberRoleChanged,
    PasswordReset,
    UserBanned,
    UserRegistered,
    UserUnbanned,
    WorkspaceCreated,
    WorkspaceDeletionScheduled,
    WorkspacePurged,
)
from core.kernel import DomainEvent

PUBLIC_EVENTS: tuple[type[DomainEvent], ...] = (
    UserRegistered,
    EmailVerified,
    PasswordReset,
    UserBanned,
    UserUnbanned,
    WorkspaceCreated,
    WorkspaceDeletionScheduled,
    WorkspacePurged,
    MemberAdded,
    MemberRoleChanged,
    MemberRemoved,
)


def event_schema(event_cls: type[DomainEvent]) -> dict[str, Any]:
    """The JSON Schema of an event's payload, with its name and version as metadata."""
    schema: dict[str, Any] = msgspec.json.schema(event_cls)
    definitions = schema.pop("$defs", {})
    body = definitions.pop(event_cls.__name__, schema)
    body = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://ninefold.dev/contracts/events/{event_cls.name}.json",
        "title": event_cls.name,
        "description": (event_cls.__doc__ or "").strip() or event_cls.name,
        "x-event-version": event_cls.version,
        **{key: value for key, value in body.items() if key != "title"},
    }
    if definitions:
        body["$defs"] = definitions
    return body


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def event_files(folder: Path) -> dict[Path, str]:
    """What ``contracts/events/`` should hold: one schema file per public event."""
    return {folder / f"{cls.name}.json": render(event_schema(cls)) for cls in PUBLIC_EVENTS}
