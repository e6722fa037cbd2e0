"""The access a subscription grants: the plan in effect, with the grace period after a
failed payment and the fallback (free) plan after it."""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

import msgspec

from core.billing.subscriptions import _S, Subscription
from core.kernel.events import AwareDatetime


class AccessState(enum.StrEnum):
    FULL = "full"  # the subscription's plan, paid up or in trial
    GRACE = "grace"  # the subscription's plan while a failed payment is retried
    FALLBACK = "fallback"  # the catalog's fallback (free) plan


class AccessReason(enum.StrEnum):
    """Why a workspace has the access it has: its subscription's status, or one of
    ``no_subscription`` and ``grace_ended``."""

    NO_SUBSCRIPTION = "no_subscription"
    INCOMPLETE = "incomplete"
    INCOMPLETE_EXPIRED = "incomplete_expired"
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    GRACE_ENDED = "grace_ended"
    UNPAID = "unpaid"
    PAUSED = "paused"
    CANCELED = "canceled"


class Access(msgspec.Struct, frozen=True, kw_only=True):
    """The plan whose entitlements a workspace has now; ``until`` is when a grace
    period ends."""

    plan: str
    state: AccessState
    reason: AccessReason
    until: AwareDatetime | None = None


def access(
    subscription: Subscription | None, now: datetime, grace_days: int, catalog_fallback: str
) -> Access:
    """The access ``subscription`` grants at ``now``: its plan in full while active or
    trialing; its plan for ``grace_days`` after a payment first failed (from
    ``past_due_since``, up to but excluding its end) while past due; otherwise (no
    subscription, grace over, unpaid, paused, incomplete, canceled, expired) the plan
    ``catalog_fallback``. Status is trusted as the provider last reported it."""
    if now.tzinfo is None:
        raise ValueError("access needs a timezone-aware time")
    if grace_days < 0:
        raise ValueError(f"grace_days cannot be negative: {grace_days}")
    if subscription is None:
        return Access(
            plan=catalog_fallback, state=AccessState.FALLBACK, reason=AccessReason.NO_SUBSCRIPTION
        )
    status = subscription.status
    if status in (_S.ACTIVE, _S.TRIALING):
        return Access(plan=subscription.plan, state=AccessState.FULL, reason=AccessReason(status))
    if status is _S.PAST_DUE:
        until = (subscription.past_due_since or now) + timedelta(days=grace_days)
        if now < until:
            return Access(
                plan=subscription.plan,
                state=AccessState.GRACE,
                reason=AccessReason.PAST_DUE,
                until=until,
            )
        return Access(
            plan=catalog_fallback, state=AccessState.FALLBACK, reason=AccessReason.GRACE_ENDED
        )
    return Access(plan=catalog_fallback, state=AccessState.FALLBACK, reason=AccessReason(status))
