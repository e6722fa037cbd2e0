"""Events the billing system publishes (schemas in contracts/events/).

Subscription changes, credit purchases and failed invoice payments declare
``audit_action``: each is also an audit log entry (docs/systems/safety/audit.md)."""

from __future__ import annotations

from core.kernel import DomainEvent
from core.kernel.events import AwareDatetime

# Subscriptions (core.billing.subscriptions)


class SubscriptionEvent(DomainEvent, frozen=True, kw_only=True):
    """Base of the subscription events: which subscription of which workspace, its plan
    and its status after the change (a ``SubscriptionStatus`` value)."""

    audit_target = ("subscription", "subscription_id")

    workspace_id: str
    subscription_id: str
    plan: str
    status: str


class SubscriptionCreated(SubscriptionEvent, frozen=True, kw_only=True):
    """A checkout created a subscription; it is ``incomplete`` until it is paid or its
    trial starts."""

    name = "billing.subscription_created"
    audit_action = "subscription.created"

    interval: str
    currency: str
    seats: int


class SubscriptionTrialStarted(SubscriptionEvent, frozen=True, kw_only=True):
    """An incomplete subscription started its free trial: full access until
    ``trial_end``."""

    name = "billing.subscription_trial_started"
    audit_action = "subscription.trial_started"

    trial_end: AwareDatetime


class SubscriptionActivated(SubscriptionEvent, frozen=True, kw_only=True):
    """A subscription was paid for the first time (after checkout or at the end of its
    trial): full access for the period."""

    name = "billing.subscription_activated"
    audit_action = "subscription.activated"

    from_status: str
    current_period_start: AwareDatetime
    current_period_end: AwareDatetime


class PaymentFailed(SubscriptionEvent, frozen=True, kw_only=True):
    """The subscription became (or, by our own transition, stayed) past due because a
    payment failed. Access continues through the grace period counted from
    ``past_due_since``. Dunning follows ``InvoicePaymentFailed``, one per failed
    attempt, which a provider's retries raise even when the status does not change."""

    name = "billing.payment_failed"
    audit_action = "subscription.payment_failed"

    past_due_since: AwareDatetime


class SubscriptionPastDue(SubscriptionEvent, frozen=True, kw_only=True):
    """A subscription's payment failed and it became ``past_due``: dunning starts."""

    name = "billing.subscription_past_due"
    audit_action = "subscription.past_due"

    from_status: str
    past_due_since: AwareDatetime


class SubscriptionUnpaid(SubscriptionEvent, frozen=True, kw_only=True):
    """The provider gave up retrying a past-due payment: entitlements fall to the free
    plan until the workspace pays."""

    name = "billing.subscription_unpaid"
    audit_action = "subscription.unpaid"

    past_due_since: AwareDatetime


class SubscriptionRecovered(SubscriptionEvent, frozen=True, kw_only=True):
    """A past-due or unpaid subscription was paid and is active again."""

    name = "billing.subscription_recovered"
    audit_action = "subscription.recovered"

    from_status: str


class SubscriptionPaused(SubscriptionEvent, frozen=True, kw_only=True):
    """A subscription was paused: no charges, entitlements of the free plan."""

    name = "billing.subscription_paused"
    audit_action = "subscription.paused"

    from_status: str


class SubscriptionResumed(SubscriptionEvent, frozen=True, kw_only=True):
    """A paused subscription is active again."""

    name = "billing.subscription_resumed"
    audit_action = "subscription.resumed"


class SubscriptionCancelScheduled(SubscriptionEvent, frozen=True, kw_only=True):
    """The subscription will end at ``cancel_at``, the end of its current period."""

    name = "billing.subscription_cancel_scheduled"
    audit_action = "subscription.cancel_scheduled"

    cancel_at: AwareDatetime | None


class SubscriptionCancelUndone(SubscriptionEvent, frozen=True, kw_only=True):
    """A scheduled cancellation was withdrawn before the period ended: it renews again."""

    name = "billing.subscription_cancel_undone"
    audit_action = "subscription.cancel_undone"


class SubscriptionCanceled(SubscriptionEvent, frozen=True, kw_only=True):
    """A subscription ended for good: now, or at the end of its period when that was
    scheduled (``at_period_end``). Canceled is final."""

    name = "billing.subscription_canceled"
    audit_action = "subscription.canceled"

    from_status: str
    at_period_end: bool
    canceled_at: AwareDatetime
    ended_at: AwareDatetime


class SubscriptionExpired(SubscriptionEvent, frozen=True, kw_only=True):
    """An incomplete subscription was never paid and expired (``incomplete_expired``,
    final)."""

    name = "billing.subscription_expired"
    audit_action = "subscription.expired"


class SubscriptionRenewed(SubscriptionEvent, frozen=True, kw_only=True):
    """A subscription's period rolled over into a new one."""

    name = "billing.subscription_renewed"
    audit_action = "subscription.renewed"

    current_period_start: AwareDatetime
    current_period_end: AwareDatetime


class SubscriptionPlanChanged(SubscriptionEvent, frozen=True, kw_only=True):
    """The plan (or interval) in effect changed: an upgrade at once, or a downgrade
    applied when the period rolled."""

    name = "billing.subscription_plan_changed"
    audit_action = "subscription.plan_changed"

    from_plan: str
    from_interval: str
    interval: str


class SubscriptionPlanChangeScheduled(SubscriptionEvent, frozen=True, kw_only=True):
    """A downgrade to ``to_plan`` (per ``to_interval``) takes effect when the current
    period ends, at ``effective_at``; until then ``plan`` stays in effect."""

    name = "billing.subscription_plan_change_scheduled"
    audit_action = "subscription.plan_change_scheduled"

    to_plan: str
    to_interval: str
    effective_at: AwareDatetime | None


class SubscriptionPlanChangeCanceled(SubscriptionEvent, frozen=True, kw_only=True):
    """A scheduled plan change was withdrawn: ``plan`` stays in effect."""

    name = "billing.subscription_plan_change_canceled"
    audit_action = "subscription.plan_change_canceled"

    to_plan: str


class SeatsChanged(SubscriptionEvent, frozen=True, kw_only=True):
    """The number of seats billed changed (members joined or left)."""

    name = "billing.seats_changed"
    audit_action = "subscription.seats_changed"

    from_seats: int
    seats: int


class SubscriptionSynced(SubscriptionEvent, frozen=True, kw_only=True):
    """The provider's view of the subscription was adopted where no single transition
    explains it (``changed`` names the fields that moved)."""

    name = "billing.subscription_synced"
    audit_action = "subscription.synced"

    from_status: str
    changed: tuple[str, ...]


# Alerts: one per threshold per period (core.billing.alerts)


class UsageThresholdReached(DomainEvent, frozen=True, kw_only=True):
    """A meter's usage in the period reached ``percent`` (80 or 100) of the plan's
    ``limit`` on it (the hard limit, or the soft one where there is no hard one)."""

    name = "billing.usage_threshold_reached"

    workspace_id: str
    meter: str
    percent: int
    limit: int
    value: float
    hard: bool
    period_start: AwareDatetime
    period_end: AwareDatetime


class CreditsLow(DomainEvent, frozen=True, kw_only=True):
    """The workspace's spendable credits fell below ``threshold`` in the allocation
    window starting ``period_start``."""

    name = "billing.credits_low"

    workspace_id: str
    balance: int
    threshold: int
    period_start: AwareDatetime


class InvoicePaymentFailed(DomainEvent, frozen=True, kw_only=True):
    """An attempt to collect an invoice failed (the first one or a retry): dunning
    sends one message per attempt. ``invoice_id`` is the provider's."""

    name = "billing.invoice_payment_failed"
    audit_action = "invoice.payment_failed"
    audit_target = ("invoice", "invoice_id")

    workspace_id: str
    provider: str
    invoice_id: str
    provider_subscription_id: str | None
    amount_due: int
    currency: str
    attempted_at: AwareDatetime


class CreditsPurchased(DomainEvent, frozen=True, kw_only=True):
    """A one-off purchase of a credit pack was paid and its credits granted."""

    name = "billing.credits_purchased"
    audit_action = "credits.purchased"
    audit_target = ("credit_grant", "grant_id")

    workspace_id: str
    product: str
    quantity: int
    credits: int
    amount: int
    currency: str
    grant_id: str


# Every event billing publishes, for contracts/events/ and customers' webhooks.
BILLING_EVENTS: tuple[type[DomainEvent], ...] = (
    SubscriptionCreated,
    SubscriptionTrialStarted,
    SubscriptionActivated,
    PaymentFailed,
    SubscriptionPastDue,
    SubscriptionUnpaid,
    SubscriptionRecovered,
    SubscriptionPaused,
    SubscriptionResumed,
    SubscriptionCancelScheduled,
    SubscriptionCancelUndone,
    SubscriptionCanceled,
    SubscriptionExpired,
    SubscriptionRenewed,
    SubscriptionPlanChanged,
    SubscriptionPlanChangeScheduled,
    SubscriptionPlanChangeCanceled,
    SeatsChanged,
    SubscriptionSynced,
    UsageThresholdReached,
    CreditsLow,
    InvoicePaymentFailed,
    CreditsPurchased,
)
