"""``sync_prices`` on Stripe: our catalog's prices as Stripe Products and Prices.

- One Product per plan or one-off product (``plan:pro``, ``product:credits_1000``: our
  price key without interval and currency), ``metadata.ninefold_key`` = that key. The
  prices of one plan (monthly, yearly, each currency) share its Product.
- One Price per ``PriceSpec``: ``lookup_key`` = our price key (``plan:pro:month:USD``),
  ``unit_amount``/``currency`` (lower-case for Stripe), ``recurring.interval`` for a plan,
  none for a one-off product, ``metadata`` ``ninefold_key``, ``ninefold_fingerprint`` and
  ``ninefold_per_seat``. Stripe's prices are immutable: a new fingerprint makes a new
  Price that takes the lookup key over (``transfer_lookup_key=true``), and the one it
  replaces is archived (``active=false``; subscriptions on it keep it until changed).
- A known price with the same fingerprint is returned as it is, without a call. For an
  unknown or changed one, the Price that holds the lookup key at Stripe is read first:
  if it has the spec's fingerprint (a sync that stopped before its result was
  recorded), it is adopted instead of created again.
- Idempotency keys are deterministic (``ninefold-price-{key}-{fingerprint}``,
  ``ninefold-product-{product key}-{hash of name and description}``,
  ``ninefold-archive-{price id}``), so a sync retried within Stripe's 24 hours creates
  nothing twice, whatever failed in the middle.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final

import stripe

from adapters.stripe.objects import META_FINGERPRINT, META_KEY, metadata, object_id
from core.billing.payments import PriceSpec, ProviderPrice

PROVIDER: Final = "stripe"
MAX_IDEMPOTENCY_KEY: Final = 255
META_PER_SEAT: Final = "ninefold_per_seat"

Caller = Callable[..., Awaitable[Any]]  # StripePaymentProvider._call: (action, method, *args)


def bounded_key(key: str, limit: int = MAX_IDEMPOTENCY_KEY) -> str:
    """``key`` itself, or a stable hash of it when Stripe would find it too long."""
    if len(key) <= limit:
        return key
    return "ninefold-" + hashlib.sha256(key.encode()).hexdigest()


def product_key(price_key: str) -> str:
    """The Product a price belongs to: ``plan:pro:month:USD`` → ``plan:pro``."""
    parts = price_key.split(":")
    return ":".join(parts[:2]) if len(parts) > 2 else price_key


class PriceSync:
    def __init__(self, client: Callable[[], stripe.StripeClient], call: Caller) -> None:
        self._client_of_loop = client
        self._call = call

    @property
    def _client(self) -> stripe.StripeClient:
        return self._client_of_loop()

    async def sync(
        self, specs: Sequence[PriceSpec], known: Mapping[str, ProviderPrice]
    ) -> list[ProviderPrice]:
        products = {
            product_key(price.key): price.provider_product_id
            for price in known.values()
            if price.provider == PROVIDER
        }
        synced: list[ProviderPrice] = []
        for spec in specs:
            current = known.get(spec.key)
            if current is not None and current.provider != PROVIDER:
                current = None
            if current is not None and current.fingerprint == spec.fingerprint:
                synced.append(current)
                continue
            synced.append(await self._sync_one(spec, current, products))
        return synced

    async def _sync_one(
        self, spec: PriceSpec, current: ProviderPrice | None, products: dict[str, str]
    ) -> ProviderPrice:
        existing = await self._holding_lookup_key(spec.key)
        if (
            existing is not None
            and existing.get("active")
            and metadata(existing).get(META_FINGERPRINT) == spec.fingerprint
        ):
            price_id, product_id = str(existing["id"]), object_id(existing.get("product"))
            if product_id is not None:
                products.setdefault(product_key(spec.key), product_id)
                await self._archive(current, keep=price_id)
                return self._record(spec, product_id, price_id)
        product_id = products.get(product_key(spec.key))
        if product_id is None and existing is not None:
            product_id = object_id(existing.get("product"))
        if product_id is None:
            product_id = await self._create_product(spec)
        products[product_key(spec.key)] = product_id
        params: dict[str, Any] = {
            "product": product_id,
            "currency": spec.currency.lower(),
            "unit_amount": spec.amount,
            "lookup_key": spec.key,
            "nickname": spec.key,
            "metadata": {
                META_KEY: spec.key,
                META_FINGERPRINT: spec.fingerprint,
                META_PER_SEAT: "true" if spec.per_seat else "false",
            },
        }
        if spec.interval is not None:
            params["recurring"] = {"interval": spec.interval.value}
        if current is not None or existing is not None:
            params["transfer_lookup_key"] = True
        created = await self._call(
            "create a price",
            self._client.v1.prices.create_async,
            params,
            {"idempotency_key": bounded_key(f"ninefold-price-{spec.key}-{spec.fingerprint}")},
        )
        price_id = str(created.id)
        await self._archive(current, keep=price_id)
        if existing is not None and existing.get("id") != price_id and existing.get("active"):
            await self._archive_id(str(existing["id"]))
        return self._record(spec, product_id, price_id)

    async def _holding_lookup_key(self, key: str) -> dict[str, Any] | None:
        page = await self._call(
            "look a price up",
            self._client.v1.prices.list_async,
            {"lookup_keys": [key], "limit": 1},
        )
        data = [price.to_dict() for price in page.data]
        return data[0] if data else None

    async def _create_product(self, spec: PriceSpec) -> str:
        key = product_key(spec.key)
        params: dict[str, Any] = {"name": spec.name, "metadata": {META_KEY: key}}
        if spec.description:
            params["description"] = spec.description
        digest = hashlib.sha256(f"{spec.name}\0{spec.description}".encode()).hexdigest()[:16]
        product = await self._call(
            "create a product",
            self._client.v1.products.create_async,
            params,
            {"idempotency_key": bounded_key(f"ninefold-product-{key}-{digest}")},
        )
        return str(product.id)

    async def _archive(self, current: ProviderPrice | None, *, keep: str) -> None:
        if current is not None and current.provider_price_id != keep:
            await self._archive_id(current.provider_price_id)

    async def _archive_id(self, price_id: str) -> None:
        await self._call(
            "archive a price",
            self._client.v1.prices.update_async,
            price_id,
            {"active": False},
            {"idempotency_key": f"ninefold-archive-{price_id}"},
        )

    def _record(self, spec: PriceSpec, product_id: str, price_id: str) -> ProviderPrice:
        return ProviderPrice(
            provider=PROVIDER,
            key=spec.key,
            provider_product_id=product_id,
            provider_price_id=price_id,
            fingerprint=spec.fingerprint,
        )
