"""Applying a verified, stored provider webhook: a subscription's new state, a mirrored
invoice, a paid credit pack. Run by a job, once per stored event (and again when staff
replay it); every step is idempotent, so a replay or a redelivery changes nothing twice.
"""

from __future__ import annotations

from core.billing.events import CreditsPurchased, InvoicePaymentFailed
from core.billing.ledger_model import CreditSource
from core.billing.payments import BillingWebhook, OneOffPayment, ProviderInvoice, WebhookKind
from core.billing.ports import Invoice, WebhookEventStatus
from core.billing.prices import read_price_key
from core.billing.service import BillingService
from core.kernel import TenantContext, UnitOfWork


class WebhookProcessor:
    def __init__(self, service: BillingService, uow: UnitOfWork) -> None:
        self._service = service
        self._uow = uow

    async def apply(self, webhook: BillingWebhook) -> tuple[WebhookEventStatus, str]:
        """Apply ``webhook``; the status and a detail to record on the stored event.
        Errors propagate (the job retries, then records it failed)."""
        service = self._service
        if webhook.kind is WebhookKind.IGNORED:
            return WebhookEventStatus.IGNORED, f"{webhook.type} is not used by billing"
        done: list[str] = []
        if webhook.subscription is not None:
            sub = await service.apply_state(webhook.subscription, webhook.workspace_id)
            done.append(f"subscription {sub.id} {sub.status.value}")
        if webhook.invoice is not None:
            stored = await self._invoice(
                webhook.invoice, webhook.workspace_id, failed=webhook.payment_failed
            )
            done.append(stored)
        if webhook.payment is not None:
            done.append(await self._payment(webhook.payment, webhook.workspace_id))
        if not done:
            return WebhookEventStatus.IGNORED, f"{webhook.type} carried nothing to apply"
        return WebhookEventStatus.PROCESSED, "; ".join(done)

    async def _workspace(self, customer_id: str, *hints: str | None) -> str | None:
        for hint in hints:
            if hint:
                return hint
        provider = self._service.provider.name
        return await self._service.stores.customers.workspace_id(provider, customer_id)

    async def _invoice(
        self, invoice: ProviderInvoice, workspace_hint: str | None, *, failed: bool
    ) -> str:
        service = self._service
        workspace_id = await self._workspace(
            invoice.customer_id, invoice.workspace_id, workspace_hint
        )
        if workspace_id is None:
            return f"invoice {invoice.provider_invoice_id} of an unknown customer, not kept"
        mirror = Invoice.mirror(workspace_id, service.provider.name, invoice)
        newer = await service.stores.invoices.upsert(mirror)
        state = "kept" if newer else "already newer"
        if failed:
            # One dunning message per failed attempt: the attempt is this view of the
            # invoice, recorded once however often its event is replayed.
            attempt = f"payment_failed:{invoice.provider_invoice_id}:{invoice.provider_version}"
            period = invoice.period_start or invoice.issued_at
            now = service.clock.now()
            if await service.stores.alerts.first(workspace_id, attempt, period, at=now):
                self._uow.raise_event(
                    InvoicePaymentFailed(
                        occurred_at=now,
                        workspace_id=workspace_id,
                        provider=service.provider.name,
                        invoice_id=invoice.provider_invoice_id,
                        provider_subscription_id=invoice.provider_subscription_id,
                        amount_due=invoice.amount_due or invoice.total,
                        currency=invoice.currency,
                        attempted_at=now,
                    )
                )
                state += ", payment failed"
        return f"invoice {invoice.provider_invoice_id} {invoice.status.value} {state}"

    async def _payment(self, payment: OneOffPayment, workspace_hint: str | None) -> str:
        service = self._service
        workspace_id = await self._workspace(
            payment.customer_id, payment.workspace_id, workspace_hint
        )
        if workspace_id is None:
            return f"payment {payment.provider_payment_id} of an unknown customer, not applied"
        price = await service.stores.prices.by_provider_price_id(
            service.provider.name, payment.price_id
        )
        if price is None:
            raise ValueError(
                f"{service.provider.name} price {payment.price_id!r} is not one of ours: "
                "run `ninefold billing sync`, then replay the event"
            )
        kind, key, _interval, _currency = read_price_key(price.key)
        if kind != "product":
            return f"payment {payment.provider_payment_id} is not for a product"
        product = service.catalog.product(key)
        credits = product.credits * payment.quantity
        tenant = TenantContext(workspace_id)
        idempotency = f"purchase:{service.provider.name}:{payment.provider_payment_id}"
        if await service.ledger.posted(tenant, idempotency) is not None:
            return f"payment {payment.provider_payment_id} was applied before"
        # Same priority as the plan's credits: those expire sooner, so they go first.
        grant = await service.ledger.grant(
            tenant,
            source=CreditSource.PURCHASE,
            amount=credits,
            key=idempotency,
            at=payment.paid_at,
        )
        self._uow.raise_event(
            CreditsPurchased(
                occurred_at=payment.paid_at,
                workspace_id=workspace_id,
                product=product.key,
                quantity=payment.quantity,
                credits=credits,
                amount=payment.amount,
                currency=payment.currency,
                grant_id=grant.id,
            )
        )
        return f"{credits} credits granted ({grant.id})"
