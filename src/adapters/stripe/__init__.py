"""The stripe payment provider adapter (core.billing.payments.PaymentProvider).

``StripePaymentProvider`` talks to Stripe's API through the official SDK;
``StripeWebhookVerifier`` and ``read_event`` check and read Stripe's webhooks. How to
configure it and what it maps: ``docs/providers/stripe.md``."""

from adapters.stripe.payments import StripePaymentProvider
from adapters.stripe.webhooks import StripeWebhookVerifier, event_version, read_event

__all__ = ["StripePaymentProvider", "StripeWebhookVerifier", "event_version", "read_event"]
