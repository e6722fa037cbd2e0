"""The sandbox payment provider adapter (core.billing.payments.PaymentProvider): a local
payment processor, the embedded default. Pure Python over a ``SandboxStore`` (the SQL
one is ``adapters.sql.billing.sandbox``, the in-memory one ``adapters.memory.payments``);
docs/providers/sandbox.md describes what it simulates."""

from adapters.sandbox.model import (
    CheckoutStatus,
    CheckoutView,
    CustomerView,
    InvoiceLine,
    InvoiceView,
    Record,
    SandboxCheckout,
    SandboxCustomer,
    SandboxEvent,
    SandboxInvoice,
    SandboxPayment,
    SandboxPrice,
    SandboxRequest,
    SandboxStore,
    SandboxSubscription,
    SandboxUsage,
    SubscriptionView,
)
from adapters.sandbox.objects import RETRY_DAYS, TickReport
from adapters.sandbox.processor import SandboxProcessor
from adapters.sandbox.provider import OpenStore, SandboxPaymentProvider, WebhookSink

RECORD_KINDS: tuple[type[Record], ...] = (
    SandboxCustomer,
    SandboxPrice,
    SandboxCheckout,
    SandboxSubscription,
    SandboxInvoice,
    SandboxPayment,
    SandboxUsage,
    SandboxRequest,
    SandboxEvent,
)

__all__ = [
    "RECORD_KINDS",
    "RETRY_DAYS",
    "CheckoutStatus",
    "CheckoutView",
    "CustomerView",
    "InvoiceLine",
    "InvoiceView",
    "OpenStore",
    "Record",
    "SandboxCheckout",
    "SandboxCustomer",
    "SandboxEvent",
    "SandboxInvoice",
    "SandboxPayment",
    "SandboxPaymentProvider",
    "SandboxPrice",
    "SandboxProcessor",
    "SandboxRequest",
    "SandboxStore",
    "SandboxSubscription",
    "SandboxUsage",
    "SubscriptionView",
    "TickReport",
    "WebhookSink",
]
