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

from core.billing import BILLING_EVENTS
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
from core.workflows.webhook_model import TEST_EVENT_TYPE, WebhookTest

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
    *BILLING_EVENTS,
)


def _belongs_to_a_workspace(event_cls: type[DomainEvent]) -> bool:
    fields = {field.name: field for field in msgspec.structs.fields(event_cls)}
    return fields["workspace_id"].required


# What a workspace's webhook endpoints may subscribe to: the public events that always
# belong to a workspace (a user's own events, like a password reset, never leave).
WEBHOOK_EVENTS: tuple[type[DomainEvent], ...] = tuple(
    event for event in PUBLIC_EVENTS if _belongs_to_a_workspace(event)
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


def webhook_envelope_schema() -> dict[str, Any]:
    """The JSON Schema of an outbound webhook's body: the envelope around an event."""
    base = "https://ninefold.dev/contracts/events/"
    types = [*(event.name for event in WEBHOOK_EVENTS), TEST_EVENT_TYPE]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{base}webhook.envelope.json",
        "title": "webhook.envelope",
        "description": (
            "The JSON body of every webhook delivery. Signed per Standard Webhooks "
            "(headers webhook-id, webhook-timestamp, webhook-signature); see "
            "docs/systems/workflows.md."
        ),
        "type": "object",
        "required": ["id", "type", "timestamp", "data"],
        "properties": {
            "id": {
                "type": "string",
                "description": "The event's id (evt_...), the same for every endpoint.",
            },
            "type": {"type": "string", "enum": types, "description": "The event's name."},
            "timestamp": {
                "type": "string",
                "format": "date-time",
                "description": "When the event happened (UTC, RFC 3339).",
            },
            "data": {"type": "object", "description": "The event, as in <type>.json."},
        },
        "oneOf": [
            {
                "properties": {
                    "type": {"const": name},
                    "data": {"$ref": f"{base}{name}.json"},
                }
            }
            for name in types
        ],
    }


def event_files(folder: Path) -> dict[Path, str]:
    """What ``contracts/events/`` should hold: one schema file per public event, and the
    outbound webhooks' envelope and test event."""
    files = {folder / f"{cls.name}.json": render(event_schema(cls)) for cls in PUBLIC_EVENTS}
    files[folder / f"{TEST_EVENT_TYPE}.json"] = render(event_schema(WebhookTest))
    files[folder / "webhook.envelope.json"] = render(webhook_envelope_schema())
    return files
