"""The notifications data export and deletion send, declared for the catalog. Both are
about the person's own account and data, so neither can be turned off."""

from __future__ import annotations

from core.notifications import Channel, NotificationType

_TEMPLATES = "core.safety"  # core/safety/templates/<type name>/

DATA_EXPORT_READY = NotificationType(
    "safety.data_export_ready",
    "security",
    channels=frozenset({Channel.EMAIL, Channel.IN_APP}),
    default_channels=frozenset({Channel.EMAIL, Channel.IN_APP}),
    opt_out=False,
    description="An export of one's data (or a workspace's) is ready to download",
    templates=_TEMPLATES,
    sample={
        "what": "your data",
        "link": "https://app.example.com/api/v1/exports/sample-token",
        "expires_at": "2030-01-02 03:04 UTC",
    },
)
ACCOUNT_DELETION_SCHEDULED = NotificationType(
    "safety.account_deletion_scheduled",
    "security",
    channels=frozenset({Channel.EMAIL}),
    default_channels=frozenset({Channel.EMAIL}),
    opt_out=False,
    description="An account will be erased after its grace period, unless its owner cancels",
    templates=_TEMPLATES,
    sample={
        "erase_after": "2030-01-31 03:04 UTC",
        "sign_in_url": "https://app.example.com/sign-in",
    },
)

DATA_NOTIFICATIONS = (DATA_EXPORT_READY, ACCOUNT_DELETION_SCHEDULED)
