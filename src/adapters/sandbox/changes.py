"""The sandbox's subscription changes through the port: plan, quantity, cancellation
and its withdrawal (``processor.py``'s docstring says how they are charged). Each is
idempotent on its key: the same key again answers the first answer."""

from __future__ import annotations

import msgspec

from adapters.sandbox import wire
from adapters.sandbox.model import InvoiceLine, SandboxPrice, SandboxSubscription
from adapters.sandbox.objects import (
    CHARGEABLE,
    FINAL,
    fraction_left,
    provider_invoice,
    rejected,
)
from adapters.sandbox.processor import SandboxProcessor
from core.billing.payments import InvoiceStatus, ProviderPrice, SubscriptionState
from core.billing.subscriptions import SubscriptionStatus, add_interval

_S = SubscriptionStatus


async def change_plan(
    p: SandboxProcessor,
    sub_id: str,
    price: ProviderPrice,
    *,
    quantity: int,
    prorate: bool,
    key: str,
) -> SubscriptionState:
    async def change(sub: SandboxSubscription) -> SandboxSubscription:
        if sub.status not in CHARGEABLE:
            raise rejected(f"cannot change the plan of a {sub.status.value} subscription")
        if quantity < 1:
            raise rejected("the quantity must be at least 1")
        new = await p.price(price.provider_price_id)
        old = await p.price(sub.price_id)
        if not new.active or new.interval is None or new.currency != sub.currency:
            raise rejected(f"the price {new.id} cannot replace {old.id}")
        changed = msgspec.structs.replace(sub, price_id=new.id, quantity=quantity)
        if prorate and sub.status is _S.ACTIVE:
            changed = await _prorate(p, sub, changed, old, new)
        return await p.save_subscription(changed)

    return await p.change("change_plan", key, sub_id, change)


async def set_quantity(
    p: SandboxProcessor, sub_id: str, quantity: int, *, key: str
) -> SubscriptionState:
    async def change(sub: SandboxSubscription) -> SandboxSubscription:
        if sub.status in FINAL:
            raise rejected(f"the subscription is {sub.status.value}")
        if quantity < 1:
            raise rejected("the quantity must be at least 1")
        if quantity == sub.quantity:
            return sub
        changed = msgspec.structs.replace(sub, quantity=quantity)
        if sub.status is _S.ACTIVE:
            price = await p.price(sub.price_id)
            changed = await _prorate(p, sub, changed, price, price)
        return await p.save_subscription(changed)

    return await p.change("set_quantity", key, sub_id, change)


async def _prorate(
    p: SandboxProcessor,
    before: SandboxSubscription,
    after: SandboxSubscription,
    old: SandboxPrice,
    new: SandboxPrice,
) -> SandboxSubscription:
    """Charge an increase now (see the module's docstring); ``after`` as it ends."""
    assert new.interval is not None
    old_total, new_total = old.amount * before.quantity, new.amount * after.quantity
    left = fraction_left(before, p.now)
    if new.interval != old.interval:
        after = msgspec.structs.replace(
            after,
            current_period_start=p.now,
            current_period_end=add_interval(p.now, new.interval),
        )
        amount = new_total - round(old_total * left)
        description = f"{new.name} x {after.quantity}, less unused time on {old.name}"
    else:
        amount = round((new_total - old_total) * left)
        description = (
            f"{new.name} x {after.quantity} (was {old.name} x {before.quantity}), "
            f"{left:.0%} of the period left"
        )
    if amount <= 0:
        return after
    invoice = await p.new_invoice(
        customer_id=after.customer_id,
        workspace_id=after.workspace_id,
        subscription_id=after.id,
        reason="subscription_update",
        currency=after.currency,
        lines=[InvoiceLine(description=description, quantity=1, unit_amount=amount, amount=amount)],
        period=(p.now, after.current_period_end),
    )
    if await p.charge(invoice, p.now):
        return after
    return p.failed(after, p.now)


async def cancel(
    p: SandboxProcessor, sub_id: str, *, at_period_end: bool, key: str
) -> SubscriptionState:
    async def change(sub: SandboxSubscription) -> SandboxSubscription:
        if sub.status in FINAL:
            raise rejected(f"the subscription is {sub.status.value} already")
        if at_period_end:
            if sub.cancel_at_period_end:
                return sub
            return await p.save_subscription(
                msgspec.structs.replace(sub, cancel_at_period_end=True, canceled_at=p.now)
            )
        for invoice in await p.open_invoices(sub.id):
            voided = msgspec.structs.replace(
                invoice, status=InvoiceStatus.VOID, amount_due=0, version=invoice.version + 1
            )
            await p.store.save(voided)
            await p.emit(
                wire.INVOICE_VOIDED,
                wire.object_data("invoice", provider_invoice(voided, p.public_url)),
            )
        return await p.save_subscription(
            msgspec.structs.replace(
                sub,
                status=_S.CANCELED,
                canceled_at=p.now,
                ended_at=p.now,
                next_retry_at=None,
            ),
            wire.SUBSCRIPTION_CANCELED,
        )

    return await p.change("cancel", key, sub_id, change)


async def resume(p: SandboxProcessor, sub_id: str, *, key: str) -> SubscriptionState:
    async def change(sub: SandboxSubscription) -> SandboxSubscription:
        if sub.status in FINAL:
            raise rejected(f"the subscription is {sub.status.value}")
        if not sub.cancel_at_period_end:
            return sub
        return await p.save_subscription(
            msgspec.structs.replace(sub, cancel_at_period_end=False, canceled_at=None)
        )

    return await p.change("resume", key, sub_id, change)
