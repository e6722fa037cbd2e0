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
)

WORKFLOWS_NOTIFICATIONS = (WEBHOOK_ENDPOINT_DISABLED,)
