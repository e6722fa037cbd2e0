"""The notifications the billing system sends, declared for the catalog."""

from __future__ import annotations

from core.notifications import Channel, NotificationType

_EMAIL_AND_IN_APP = frozenset({Channel.EMAIL, Channel.IN_APP})
_TEMPLATES = "core.billing"  # core/billing/templates/<type name>/

PAYMENT_FAILED = NotificationType(
    "billing.payment_failed",
    "billing",
    channels=_EMAIL_AND_IN_APP,
    default_channels=_EMAIL_AND_IN_APP,
    opt_out=False,
    description="A subscription payment failed; access ends unless the payment method is fixed",
    templates=_TEMPLATES,
    sample={
        "workspace_name": "Analytical Engines",
        "amount": "€49.00",
        "access_until": "2026-12-07",
        "billing_url": "https://app.example.com/workspaces/ws_01JDQ8Z6B0EXAMPLE/billing",
    },
)
CREDITS_LOW = NotificationType(
    "billing.credits_low",
    "usage",
    channels=_EMAIL_AND_IN_APP,
    default_channels=_EMAIL_AND_IN_APP,
    opt_out=True,
    description="A workspace's credit balance fell below its alert threshold",
    templates=_TEMPLATES,
    sample={
        "workspace_name": "Analytical Engines",
        "balance": 120,
        "threshold": 500,
        "billing_url": "https://app.example.com/workspaces/ws_01JDQ8Z6B0EXAMPLE/billing",
    },
)

USAGE_THRESHOLD = NotificationType(
    "billing.usage_threshold",
    "usage",
    channels=_EMAIL_AND_IN_APP,
    default_channels=_EMAIL_AND_IN_APP,
    opt_out=True,
    description="A workspace used 80% or 100% of a plan limit on a meter this period",
    templates=_TEMPLATES,
    sample={
        "workspace_name": "Analytical Engines",
        "meter": "api_calls",
        "percent": 80,
        "used": 800,
        "limit": 1000,
        "limit_kind": "hard",
        "period_end": "2026-12-31",
        "billing_url": "https://app.example.com/workspaces/ws_01JDQ8Z6B0EXAMPLE/billing",
    },
)

BILLING_NOTIFICATIONS = (PAYMENT_FAILED, CREDITS_LOW, USAGE_THRESHOLD)
