"""The notifications the workflows system sends, declared for the catalog."""

from __future__ import annotations

from core.notifications import Channel, NotificationType

WEBHOOK_ENDPOINT_DISABLED = NotificationType(
    "workflows.webhook_endpoint_disabled",
    "integrations",
    channels=frozenset({Channel.EMAIL, Channel.IN_APP}),
    default_channels=frozenset({Channel.EMAIL}),
    opt_out=False,
    description="A workspace's webhook endpoint kept failing and was turned off",
    templates="core.workflows",  # core/workflows/templates/<type name>/
    sample={
        "endpoint_url": "https://hooks.example.com/ninefold",
        "endpoint_id": "whe_01JDQ8Z6B0EXAMPLE",
        "reason": "no delivery has succeeded for 5 days",
        "failing_since": "2026-11-23 10:00",
        "endpoint_api_url": (
            "https://app.example.com/api/v1/workspaces/ws_01JDQ8Z6B0EXAMPLE"
            "/webhooks/whe_01JDQ8Z6B0EXAMPLE"
        ),
        "deliveries_url": (
            "https://app.example.com/api/v1/workspaces/ws_01JDQ8Z6B0EXAMPLE"
            "/webhooks/whe_01JDQ8Z6B0EXAMPLE/deliveries"
        ),
    },
)

WORKFLOWS_NOTIFICATIONS = (WEBHOOK_ENDPOINT_DISABLED,)
