"""Our prices as providers know them: the catalog's prices as ``PriceSpec``s for
``PaymentProvider.sync_prices``, and our price keys read back."""

from __future__ import annotations

from core.billing.catalog import BillingInterval, Catalog
from core.billing.payments import PriceSpec, plan_price_key, product_price_key


def price_specs(catalog: Catalog) -> list[PriceSpec]:
    """Every price of the catalog as the provider must know it."""
    specs: list[PriceSpec] = []
    for plan in catalog.plans:
        for price in plan.prices:
            fingerprint = f"{price.amount}:{price.currency}:{price.interval}:{price.per_seat}"
            specs.append(
                PriceSpec(
                    key=plan_price_key(plan.key, price.interval, price.currency),
                    name=plan.name,
                    description=plan.description,
                    amount=price.amount,
                    currency=price.currency,
                    interval=price.interval,
                    per_seat=price.per_seat,
                    fingerprint=fingerprint,
                )
            )
    for product in catalog.products:
        for item in product.prices:
            specs.append(
                PriceSpec(
                    key=product_price_key(product.key, item.currency),
                    name=product.name,
                    description=product.description,
                    amount=item.amount,
                    currency=item.currency,
                    fingerprint=f"{item.amount}:{item.currency}",
                )
            )
    return specs


def read_price_key(key: str) -> tuple[str, str, BillingInterval | None, str]:
    """``plan:pro:month:USD`` -> ("plan", "pro", month, "USD");
    ``product:credits_1000:USD`` -> ("product", "credits_1000", None, "USD")."""
    parts = key.split(":")
    if len(parts) == 4 and parts[0] == "plan":
        return "plan", parts[1], BillingInterval(parts[2]), parts[3]
    if len(parts) == 3 and parts[0] == "product":
        return "product", parts[1], None, parts[2]
    raise ValueError(f"not a price key: {key!r}")
