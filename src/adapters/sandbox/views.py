"""What the sandbox's back office shows: the checkout page, the portal (and
``ninefold billing sandbox show``), the invoice page."""

from __future__ import annotations

from adapters.sandbox.model import (
    CheckoutStatus,
    CheckoutView,
    CustomerView,
    InvoiceView,
    SandboxCheckout,
    SandboxCustomer,
    SandboxInvoice,
    SandboxSubscription,
    SubscriptionView,
)
from adapters.sandbox.objects import invoice_url
from adapters.sandbox.processor import SandboxProcessor
from core.billing.errors import PaymentProviderRejectedError


async def checkout_view(p: SandboxProcessor, checkout_id: str) -> CheckoutView | None:
    checkout = await p.store.get(SandboxCheckout, checkout_id)
    if checkout is None:
        return None
    price = await p.price(checkout.price_id)
    customer = await p.customer(checkout.customer_id)
    status = checkout.status
    if status is CheckoutStatus.OPEN and checkout.expires_at <= p.now:
        status = CheckoutStatus.EXPIRED
    total = price.amount * checkout.quantity
    return CheckoutView(
        id=checkout.id,
        status=status,
        mode=checkout.mode,
        product_name=price.name,
        description=price.description,
        price_key=price.key,
        interval=price.interval,
        unit_amount=price.amount,
        quantity=checkout.quantity,
        amount=0 if checkout.trial_days else total,
        currency=price.currency,
        trial_days=checkout.trial_days,
        customer_name=customer.name,
        customer_email=customer.email,
        success_url=checkout.success_url,
        cancel_url=checkout.cancel_url,
        expires_at=checkout.expires_at,
    )


async def invoice_view(p: SandboxProcessor, invoice_id: str) -> InvoiceView | None:
    invoice = await p.store.get(SandboxInvoice, invoice_id)
    if invoice is None:
        return None
    customer = await p.customer(invoice.customer_id)
    return _invoice_view(p, invoice, customer)


def _invoice_view(
    p: SandboxProcessor, invoice: SandboxInvoice, customer: SandboxCustomer
) -> InvoiceView:
    return InvoiceView(
        id=invoice.id,
        number=invoice.number,
        status=invoice.status,
        reason=invoice.reason,
        customer_id=customer.id,
        customer_name=customer.name,
        workspace_id=invoice.workspace_id,
        subscription_id=invoice.subscription_id,
        currency=invoice.currency,
        lines=invoice.lines,
        subtotal=invoice.subtotal,
        total=invoice.total,
        amount_paid=invoice.amount_paid,
        amount_due=invoice.amount_due,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        issued_at=invoice.issued_at,
        paid_at=invoice.paid_at,
        attempts=invoice.attempts,
        url=invoice_url(p.public_url, invoice.id),
    )


async def customer_view(p: SandboxProcessor, target: str) -> CustomerView | None:
    """A customer (by customer, workspace or subscription id) with its
    subscriptions, invoices and usage; ``None`` when there is none."""
    try:
        customer = await p.customer(await p.resolve_customer(target))
    except PaymentProviderRejectedError:
        return None
    subs = await p.store.find(SandboxSubscription, "customer_id", customer.id)
    views = []
    for sub in sorted(subs, key=lambda s: (s.created_at, s.id), reverse=True):
        price = await p.price(sub.price_id)
        views.append(
            SubscriptionView(
                id=sub.id,
                status=sub.status,
                product_name=price.name,
                price_key=price.key,
                quantity=sub.quantity,
                amount=price.amount * sub.quantity,
                currency=sub.currency,
                interval=price.interval,
                current_period_start=sub.current_period_start,
                current_period_end=sub.current_period_end,
                trial_end=sub.trial_end,
                cancel_at_period_end=sub.cancel_at_period_end,
                past_due_since=sub.past_due_since,
                failed_attempts=sub.failed_attempts,
                next_retry_at=sub.next_retry_at,
                ended_at=sub.ended_at,
                version=sub.version,
            )
        )
    invoices = [_invoice_view(p, i, customer) for i in await p.invoices_of(customer.id)]
    return CustomerView(
        id=customer.id,
        workspace_id=customer.workspace_id,
        name=customer.name,
        email=customer.email,
        card_works=customer.card_works,
        subscriptions=views,
        invoices=invoices,
        usage=await p.usage_totals(customer.id),
        portal_url=f"{p.public_url}/billing/sandbox/portal/{customer.id}",
    )
