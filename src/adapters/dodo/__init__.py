"""The dodo payment provider adapter (core.billing.payments.PaymentProvider)."""

from adapters.dodo.payments import DodoPaymentProvider
from adapters.dodo.webhooks import DodoWebhookVerifier

__all__ = ["DodoPaymentProvider", "DodoWebhookVerifier"]
