"""Errors of the billing system, each with a stable problem type (``billing/…``)."""

from __future__ import annotations

from core.kernel import ConflictError, DomainError, NotFoundError, ValidationError

# The credit ledger (core.billing.ledger)


class InsufficientCreditsError(DomainError):
    """A consumption larger than the workspace's spendable credits (plus the overdraft
    its plan allows). Nothing was consumed. 402: the remedy is buying or being granted
    credits, not retrying. Carries ``balance`` (spendable now, negative when in
    overdraft) and ``requested``."""

    type = "billing/insufficient-credits"
    status = 402
    title = "Not enough credits."

    def __init__(self, *, balance: int, requested: int, overdraft_limit: int = 0) -> None:
        super().__init__(
            f"{requested} credits requested, {balance} available"
            + (f" (overdraft allowed up to {overdraft_limit})" if overdraft_limit else ""),
            balance=balance,
            requested=requested,
            overdraft_limit=overdraft_limit,
        )
        self.balance = balance
        self.requested = requested
        self.overdraft_limit = overdraft_limit


class InvalidCreditRequestError(ValidationError):
    """A ledger request that cannot be carried out as asked: a non-positive amount, a
    staff grant or a reversal without a reason, an expiry not after its start, a
    negative rollover cap, a period that ends before it starts."""

    type = "billing/invalid-credit-request"
    title = "The credit request is not valid."


class LedgerTransactionNotFoundError(NotFoundError):
    type = "billing/transaction-not-found"
    title = "There is no such credit transaction."


class LedgerKeyReusedError(ConflictError):
    """An idempotency key already used, in this workspace, for a different posting (another
    kind or amount). Posting the same request again returns the first transaction."""

    type = "billing/ledger-key-reused"
    title = "The idempotency key was already used for a different credit transaction."


class ReversalRefusedError(ConflictError):
    """A reversal the ledger cannot post: of a reversal, of an expiry or rollover (they
    follow from time and policy), of a grant whose credits were already used, or of an
    overdraft consumption whose debt was already repaid."""

    type = "billing/reversal-refused"
    title = "The credit transaction cannot be reversed."


# Metered usage (core.billing.usage)


class UsageBatchTooLargeError(DomainError):
    """More usage events in one batch than ``core.billing.usage.MAX_BATCH``. Nothing was
    recorded: split the batch."""

    type = "billing/usage-batch-too-large"
    status = 413
    title = "Too many usage events in one batch."

    def __init__(self, *, size: int, limit: int) -> None:
        super().__init__(f"{size} events sent, at most {limit} per batch", size=size, limit=limit)


class InvalidUsageEventError(ValidationError):
    """A single usage event that was rejected; ``reason`` is its rejection reason code
    (``core.billing.usage.RejectReason``), as a batch would report it."""

    type = "billing/invalid-usage-event"
    title = "The usage event is not valid."

    def __init__(self, detail: str, *, event_id: str, reason: str) -> None:
        super().__init__(detail, event_id=event_id, reason=reason)
        self.event_id = event_id
        self.reason = reason


class UsageLimitExceededError(ConflictError):
    """A usage event that would take a meter's aggregate for the period above the
    workspace's hard limit. Nothing was recorded; the limit resets with the period."""

    type = "billing/usage-limit-exceeded"
    title = "The usage limit for this period is reached."

    def __init__(self, detail: str, *, event_id: str, meter: str, limit: float) -> None:
        super().__init__(detail, event_id=event_id, meter=meter, limit=limit)
        self.event_id = event_id
        self.meter = meter
        self.limit = limit


class UnknownMeterError(NotFoundError):
    type = "billing/unknown-meter"
    title = "There is no such meter."


class InvalidUsagePeriodError(ValidationError):
    """An aggregation period that is not a pair of timezone-aware instants, start first."""

    type = "billing/invalid-usage-period"
    title = "The usage period is not valid."


# The plan catalog (core.billing.catalog)


class UnknownPlanError(NotFoundError):
    type = "billing/unknown-plan"
    title = "There is no such plan."


class UnknownPriceError(ValidationError):
    """A plan has no price for the interval and currency asked for."""

    type = "billing/unknown-price"
    title = "The plan has no price for this interval and currency."


class UnknownProductError(NotFoundError):
    type = "billing/unknown-product"
    title = "There is no such product."


class UnknownCurrencyError(ValidationError):
    """A currency the catalog prices nothing in; ``available`` lists those it does."""

    type = "billing/unknown-currency"
    title = "Nothing is priced in this currency."

    def __init__(self, currency: str, *, available: list[str]) -> None:
        super().__init__(
            f"no prices in {currency!r}; available: {', '.join(available) or 'none'}",
            currency=currency,
            available=available,
        )
        self.currency = currency
        self.available = available


# Subscriptions (core.billing.subscriptions)


class InvalidSubscriptionTransitionError(ConflictError):
    """A subscription transition its current state does not allow (activating a canceled
    subscription, pausing a past-due one, ending a period before its end). Nothing
    changed. Carries ``transition``, ``from_status`` and ``to_status``."""

    type = "billing/invalid-subscription-transition"
    title = "The subscription cannot make this change in its current state."

    def __init__(
        self, *, transition: str, from_status: str, to_status: str, reason: str = ""
    ) -> None:
        super().__init__(
            f"cannot {transition.replace('_', ' ')} a {from_status} subscription "
            f"({from_status} -> {to_status})" + (f": {reason}" if reason else ""),
            transition=transition,
            from_status=from_status,
            to_status=to_status,
        )
        self.transition = transition
        self.from_status = from_status
        self.to_status = to_status


class InvalidSubscriptionChangeError(ValidationError):
    """A subscription change with bad values: fewer than one seat, a trial or period
    that ends before it starts, a naive datetime."""

    type = "billing/invalid-subscription-change"
    title = "The subscription change is not valid."


# Payment providers (core.billing.payments)


class PaymentProviderUnavailableError(DomainError):
    """The payment provider could not be reached, timed out, rate-limited us or failed
    (5xx). Nothing is known to have changed; the same request may be retried later (a
    job retries by its policy; the API answers 503 with Retry-After)."""

    type = "billing/payment-provider-unavailable"
    status = 503
    title = "The payment provider is not available right now."

    def __init__(
        self, detail: str | None = None, *, retry_after: int = 30, **extra: object
    ) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)}, **extra)
        self.retry_after = retry_after


class PaymentProviderRejectedError(DomainError):
    """The payment provider refused the request (a 4xx other than rate limiting): the
    same request will be refused again. ``detail`` carries the provider's reason, never
    a key."""

    type = "billing/payment-provider-rejected"
    status = 502
    title = "The payment provider refused the request."


class InvalidBillingWebhookError(DomainError):
    """A payment provider's webhook whose signature does not verify: missing, wrong,
    for another body, or with a timestamp outside the tolerance (a replay). Nothing of
    it is kept. ``reason`` is a stable code (``missing-header``, ``stale``,
    ``bad-signature``, ``malformed``)."""

    type = "billing/invalid-webhook-signature"
    status = 400
    title = "The webhook signature is not valid."

    def __init__(self, detail: str, *, reason: str) -> None:
        super().__init__(detail, reason=reason)
        self.reason = reason


# Subscriptions in the store (core.billing.ports)


class SubscriptionExistsError(ConflictError):
    """The workspace already has a live subscription: change it instead of starting
    another (one subscription per workspace)."""

    type = "billing/subscription-exists"
    title = "The workspace already has a subscription."


class ConcurrentSubscriptionUpdateError(ConflictError):
    """The subscription changed since it was read (another request or webhook saved
    it first). Reload and apply the change again."""

    type = "billing/concurrent-subscription-update"
    title = "The subscription was changed by someone else at the same time."


class NoSubscriptionError(NotFoundError):
    """The workspace has no subscription (it is on the free plan)."""

    type = "billing/no-subscription"
    title = "The workspace has no subscription."
