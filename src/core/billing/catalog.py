"""The plan catalog: plans, their prices and entitlements, the meters, and one-off
products, declared in one versioned TOML file (``plans.toml`` next to this module by
default; docs/systems/billing.md, "Catalog", describes the format): the model here,
its reading and checking in ``catalog_file.py``.
"""

from __future__ import annotations

import enum
import hashlib
import math

import msgspec

from core.billing.errors import (
    UnknownMeterError,
    UnknownPlanError,
    UnknownPriceError,
    UnknownProductError,
)
from core.billing.usage import Aggregation, MeterSpec
from core.kernel import Money


class CatalogError(ValueError):
    """A catalog that cannot be used: ``path`` names the bad key (empty for the file
    itself), ``reason`` says what is wrong with it."""

    def __init__(self, path: str, reason: str, *, source: str = "") -> None:
        self.path = path
        self.reason = reason
        self.source = source
        where = ": ".join(part for part in (source, path) if part)
        super().__init__(f"{where}: {reason}" if where else reason)


class BillingInterval(enum.StrEnum):
    MONTH = "month"
    YEAR = "year"


class CreditPeriod(enum.StrEnum):
    """How often a plan's credits are allocated: every month (also on annual plans) or
    once per billing interval."""

    MONTH = "month"
    INTERVAL = "interval"


class Price(msgspec.Struct, frozen=True, kw_only=True):
    """What a plan costs per ``interval`` in ``currency`` (``amount`` in minor units).

    A per-seat price charges ``amount`` for each seat, and for at least
    ``included_seats`` seats: the price of the included seats is the least a
    subscription pays, and each seat beyond them costs ``amount`` more."""

    interval: BillingInterval
    currency: str
    amount: int
    per_seat: bool = False
    included_seats: int = 0

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)

    def billable_seats(self, seats: int) -> int:
        """The quantity billed for ``seats`` seats (1 for a flat price)."""
        return max(seats, self.included_seats) if self.per_seat else 1

    def charge(self, seats: int = 1) -> Money:
        """What one interval costs with ``seats`` seats."""
        return self.money.times(self.billable_seats(seats))


class Overage(msgspec.Struct, frozen=True, kw_only=True):
    """The price of usage beyond a plan's included quantity: ``amount`` for every
    started block of ``unit_size`` units (50 per 1,000 calls: amount 50, unit_size 1000)."""

    currency: str
    amount: int
    unit_size: int = 1

    def charge(self, quantity: float) -> Money:
        """What ``quantity`` units over the included quantity cost."""
        units = math.ceil(quantity / self.unit_size) if quantity > 0 else 0
        return Money(self.amount * units, self.currency)


class MeterLimits(msgspec.Struct, frozen=True, kw_only=True):
    """A plan's limits on a meter per billing period. Usage above ``hard`` is refused;
    reaching ``soft`` raises an alert. ``None``: no such limit."""

    hard: int | None = None
    soft: int | None = None


class Meter(msgspec.Struct, frozen=True, kw_only=True):
    """A meter, declared once for every plan. ``property`` names the event property
    that sum, max, unique count and latest aggregate; count counts events."""

    name: str
    aggregation: Aggregation
    property: str | None = None
    description: str = ""
    unit: str = ""

    def spec(self) -> MeterSpec:
        """The meter as usage ingestion needs it."""
        return MeterSpec(self.name, self.aggregation, self.property)


class PlanMeter(msgspec.Struct, frozen=True, kw_only=True):
    """A plan's terms for one meter: ``included`` units per period, the ``overage``
    prices beyond them (one per currency the plan is priced in; none: usage beyond is
    not charged) and the limits."""

    meter: str
    included: int = 0
    overage: tuple[Overage, ...] = ()
    limit: MeterLimits = MeterLimits()

    def overage_in(self, currency: str) -> Overage | None:
        return next((o for o in self.overage if o.currency == currency), None)


class CreditAllocation(msgspec.Struct, frozen=True, kw_only=True):
    """Credits a plan allocates each ``period``. At the period's end at most
    ``rollover_cap`` unused credits roll over (``None``: all of them; 0: none); the
    balance may go ``overdraft`` credits below zero."""

    amount: int
    period: CreditPeriod
    rollover_cap: int | None = 0
    overdraft: int = 0


class Plan(msgspec.Struct, frozen=True, kw_only=True):
    """A plan: its prices, boolean features, numeric limits (``None``: unlimited),
    meter terms and credit allocation. Hidden plans (``public = false``) can be
    subscribed to but are not listed."""

    key: str
    name: str
    description: str = ""
    public: bool = True
    trial_days: int = 0
    prices: tuple[Price, ...] = ()
    features: frozenset[str] = frozenset()
    limits: dict[str, int | None] = msgspec.field(default_factory=dict)
    meters: dict[str, PlanMeter] = msgspec.field(default_factory=dict)
    credits: CreditAllocation | None = None

    def price(self, interval: str, currency: str) -> Price:
        """The price per ``interval`` in ``currency``; ``UnknownPriceError`` if none."""
        for price in self.prices:
            if price.interval == interval and price.currency == currency:
                return price
        raise UnknownPriceError(
            f"plan {self.key!r} has no {interval!r} price in {currency!r}",
            plan=self.key,
            interval=interval,
            currency=currency,
        )

    def has_feature(self, feature: str) -> bool:
        return feature in self.features

    def limit(self, name: str) -> int | None:
        """The plan's limit ``name``; ``None`` is unlimited. Every plan names the same
        limits, so an unknown name (``KeyError``) is a programming error."""
        if name not in self.limits:
            raise KeyError(f"plan {self.key!r} has no limit named {name!r}")
        return self.limits[name]

    def meter(self, name: str) -> PlanMeter:
        """The plan's terms for meter ``name``; a meter the plan does not name has none:
        nothing included, no overage price, no limits."""
        return self.meters.get(name) or PlanMeter(meter=name)

    @property
    def currencies(self) -> frozenset[str]:
        return frozenset(price.currency for price in self.prices)


class ProductPrice(msgspec.Struct, frozen=True, kw_only=True):
    currency: str
    amount: int

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)


class Product(msgspec.Struct, frozen=True, kw_only=True):
    """A one-off purchase: a pack of ``credits`` sold at its prices (one per currency)."""

    key: str
    name: str
    credits: int
    prices: tuple[ProductPrice, ...]
    description: str = ""
    public: bool = True

    def price(self, currency: str) -> ProductPrice:
        for price in self.prices:
            if price.currency == currency:
                return price
        raise UnknownPriceError(
            f"product {self.key!r} has no price in {currency!r}",
            product=self.key,
            currency=currency,
        )


class Catalog(msgspec.Struct, frozen=True, kw_only=True):
    """Every plan, meter and product, in the file's order. ``version`` is the file's own
    number, bumped by whoever edits it; ``fingerprint`` changes with any content."""

    version: int
    fallback: str
    plans: tuple[Plan, ...]
    meters: dict[str, Meter] = msgspec.field(default_factory=dict)
    products: tuple[Product, ...] = ()

    def plan(self, key: str) -> Plan:
        """The plan ``key``, hidden or not; ``UnknownPlanError`` if there is none."""
        for plan in self.plans:
            if plan.key == key:
                return plan
        raise UnknownPlanError(f"no plan {key!r}", plan=key)

    @property
    def fallback_plan(self) -> Plan:
        """The free plan a workspace without a (paid-up) subscription is on."""
        return self.plan(self.fallback)

    def price(self, plan: str | Plan, interval: str, currency: str) -> Price:
        """A plan's price per ``interval`` in ``currency`` (``UnknownPlanError``,
        ``UnknownPriceError``)."""
        return (self.plan(plan) if isinstance(plan, str) else plan).price(interval, currency)

    def meter(self, name: str) -> Meter:
        meter = self.meters.get(name)
        if meter is None:
            raise UnknownMeterError(f"no meter named {name!r}", meter=name)
        return meter

    def meter_specs(self) -> dict[str, MeterSpec]:
        """Every meter as usage ingestion needs them (``UsageService``'s ``meters``)."""
        return {name: meter.spec() for name, meter in self.meters.items()}

    def product(self, key: str) -> Product:
        for product in self.products:
            if product.key == key:
                return product
        raise UnknownProductError(f"no product {key!r}", product=key)

    def public_plans(self) -> tuple[Plan, ...]:
        return tuple(plan for plan in self.plans if plan.public)

    def public_products(self) -> tuple[Product, ...]:
        return tuple(product for product in self.products if product.public)

    def public_currencies(self) -> tuple[str, ...]:
        """The currencies public plans and products are priced in, sorted."""
        plans = {p.currency for plan in self.public_plans() for p in plan.prices}
        products = {p.currency for product in self.public_products() for p in product.prices}
        return tuple(sorted(plans | products))

    def fingerprint(self) -> str:
        """A SHA-256 of the catalog's content (hex): equal catalogs, equal fingerprints."""
        encoded = msgspec.json.encode(self, order="deterministic")
        return hashlib.sha256(encoded).hexdigest()
