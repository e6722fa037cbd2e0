"""The dodo payment provider adapter (core.billing.payments.PaymentProvider)."""
