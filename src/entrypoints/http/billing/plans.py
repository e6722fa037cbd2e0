"""``GET /api/v1/plans``: the public plan catalog, for pricing pages and checkout forms.

No sign-in needed. Hidden plans and products are left out. The answer is the same for
everyone until the catalog changes, so it is cacheable by anyone for five minutes and
carries an ETag made of the catalog's version and a hash of its content: a client that
sends it back in ``If-None-Match`` gets ``304 Not Modified``.
"""

from __future__ import annotations

import functools
from typing import Annotated

import msgspec
from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.openapi import ResponseSpec
from litestar.params import HeaderParameter, QueryParameter

from core.billing import (
    Catalog,
    Plan,
    PlanMeter,
    Product,
    UnknownCurrencyError,
    load_catalog,
)
from entrypoints.http.dependencies import container_of

CACHE_CONTROL = "public, max-age=300"


@functools.lru_cache(maxsize=4)
def catalog_for(plans_file: str) -> Catalog:
    """The catalog at ``plans_file`` (empty: the packaged one), read once per process.
    Edits to the file take effect when the app restarts."""
    return load_catalog(plans_file or None)


class CatalogPriceOut(msgspec.Struct):
    """Amounts are minor units (cents). A per-seat price is per seat per interval, for
    at least ``included_seats`` seats."""

    interval: str
    currency: str
    amount: int
    per_seat: bool
    included_seats: int


class CatalogOverageOut(msgspec.Struct):
    """``amount`` for every started block of ``unit_size`` units over the included."""

    currency: str
    amount: int
    unit_size: int


class CatalogMeterLimitsOut(msgspec.Struct):
    """Per billing period; ``null``: no such limit."""

    hard: int | None
    soft: int | None


class CatalogMeterOut(msgspec.Struct):
    meter: str
    description: str
    unit: str
    aggregation: str
    included: int
    overage: list[CatalogOverageOut]
    limit: CatalogMeterLimitsOut


class CatalogCreditsOut(msgspec.Struct):
    """``period``: ``month`` (every month, also on annual prices) or ``interval`` (once
    per billing interval). ``rollover_cap``: ``null`` rolls every unused credit over."""

    amount: int
    period: str
    rollover_cap: int | None
    overdraft: int


class CatalogPlanOut(msgspec.Struct):
    """``limits``: ``null`` is unlimited."""

    key: str
    name: str
    description: str
    trial_days: int
    prices: list[CatalogPriceOut]
    features: list[str]
    limits: dict[str, int | None]
    meters: list[CatalogMeterOut]
    credits: CatalogCreditsOut | None


class CatalogProductPriceOut(msgspec.Struct):
    currency: str
    amount: int


class CatalogProductOut(msgspec.Struct):
    key: str
    name: str
    description: str
    credits: int
    prices: list[CatalogProductPriceOut]


class PlanCatalogOut(msgspec.Struct):
    """``fallback`` is the free plan's key; ``currencies`` are those prices exist in."""

    version: int
    fallback: str
    currencies: list[str]
    plans: list[CatalogPlanOut]
    products: list[CatalogProductOut]


def _plan_meter(catalog: Catalog, terms: PlanMeter, currency: str | None) -> CatalogMeterOut:
    meter = catalog.meter(terms.meter)
    return CatalogMeterOut(
        meter=meter.name,
        description=meter.description,
        unit=meter.unit,
        aggregation=meter.aggregation.value,
        included=terms.included,
        overage=[
            CatalogOverageOut(o.currency, o.amount, o.unit_size)
            for o in terms.overage
            if currency in (None, o.currency)
        ],
        limit=CatalogMeterLimitsOut(hard=terms.limit.hard, soft=terms.limit.soft),
    )


def _plan(catalog: Catalog, plan: Plan, currency: str | None) -> CatalogPlanOut:
    credits = plan.credits
    return CatalogPlanOut(
        key=plan.key,
        name=plan.name,
        description=plan.description,
        trial_days=plan.trial_days,
        prices=[
            CatalogPriceOut(p.interval.value, p.currency, p.amount, p.per_seat, p.included_seats)
            for p in plan.prices
            if currency in (None, p.currency)
        ],
        features=sorted(plan.features),
        limits=dict(plan.limits),
        meters=[_plan_meter(catalog, terms, currency) for terms in plan.meters.values()],
        credits=CatalogCreditsOut(
            credits.amount, credits.period.value, credits.rollover_cap, credits.overdraft
        )
        if credits
        else None,
    )


def _product(product: Product, currency: str | None) -> CatalogProductOut:
    return CatalogProductOut(
        key=product.key,
        name=product.name,
        description=product.description,
        credits=product.credits,
        prices=[
            CatalogProductPriceOut(p.currency, p.amount)
            for p in product.prices
            if currency in (None, p.currency)
        ],
    )


def public_catalog(catalog: Catalog, currency: str | None = None) -> PlanCatalogOut:
    """The public part of ``catalog``; with ``currency``, only prices in it, and only
    the plans and products sold in it (plans without any price, like the free one,
    stay)."""
    available = list(catalog.public_currencies())
    if currency is not None and currency not in available:
        raise UnknownCurrencyError(currency, available=available)
    plans = [
        _plan(catalog, plan, currency)
        for plan in catalog.public_plans()
        if currency is None or not plan.prices or currency in plan.currencies
    ]
    products = [
        _product(product, currency)
        for product in catalog.public_products()
        if currency is None or any(p.currency == currency for p in product.prices)
    ]
    return PlanCatalogOut(
        version=catalog.version,
        fallback=catalog.fallback,
        currencies=available,
        plans=plans,
        products=products,
    )


def _matches(if_none_match: str, etag: str) -> bool:
    """``If-None-Match`` compares weakly (RFC 9110 13.1.2): ``W/`` is ignored."""
    if if_none_match.strip() == "*":
        return True
    tags = (tag.strip() for tag in if_none_match.split(","))
    return etag in (tag.removeprefix("W/") for tag in tags)


@functools.lru_cache(maxsize=32)
def _answer(plans_file: str, currency: str | None) -> tuple[PlanCatalogOut, str]:
    """The body and ETag for one catalog file and currency filter. An unknown currency
    raises, and raising is not cached."""
    catalog = catalog_for(plans_file)
    body = public_catalog(catalog, currency)
    etag = f'"v{catalog.version}-{catalog.fingerprint()[:16]}-{currency or "all"}"'
    return body, etag


class PlansController(Controller):
    path = "/api/v1/plans"
    tags = ["billing"]

    @get(
        "/",
        summary="The public plans and one-off products, with prices and entitlements",
        description=(
            "No sign-in needed. Cacheable for 5 minutes; send the ETag back in "
            "If-None-Match to get 304 when nothing changed. An unknown currency is a 422 "
            "problem 'billing/unknown-currency' listing the available ones."
        ),
        responses={304: ResponseSpec(data_container=None, description="Not modified")},
    )
    async def list_plans(
        self,
        state: State,
        currency: Annotated[
            str | None,
            QueryParameter(
                description="only prices in this ISO 4217 currency, e.g. EUR",
                max_length=32,
            ),
        ] = None,
        if_none_match: Annotated[
            str | None,
            HeaderParameter(name="If-None-Match", description="an ETag from before"),
        ] = None,
    ) -> Response[PlanCatalogOut]:
        plans_file = container_of(state).settings().billing_plans_file
        body, etag = _answer(plans_file, currency.upper() if currency else None)
        headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
        if if_none_match and _matches(if_none_match, etag):
            return Response(None, status_code=304, headers=headers)  # type: ignore[arg-type]
        return Response(body, headers=headers)
