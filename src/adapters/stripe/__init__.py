"""The stripe payment provider adapter (core.billing.payments.PaymentProvider)."""
