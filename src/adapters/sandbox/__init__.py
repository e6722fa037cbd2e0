"""The sandbox payment provider adapter (core.billing.payments.PaymentProvider)."""
