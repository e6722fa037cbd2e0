"""Reading the plan catalog: ``load_catalog`` reads the TOML file with ``tomllib`` and
``parse_catalog`` checks the plain dict thoroughly, raising ``CatalogError`` naming the
bad key path (``plans[pro].prices[1].currency``) on the first problem it finds. TOML has
no null: where the catalog allows "no limit" (a plan's limits, a meter's hard and soft
limits, a rollover cap) write ``"unlimited"`` (a dict from elsewhere may hold ``None``).
"""

from __future__ import annotations

import enum
import os
import re
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from core.billing.catalog import (
    BillingInterval,
    Catalog,
    CatalogError,
    CreditAllocation,
    CreditPeriod,
    Meter,
    MeterLimits,
    Overage,
    Plan,
    PlanMeter,
    Price,
    Product,
    ProductPrice,
)
from core.billing.usage import Aggregation

UNLIMITED = "unlimited"
MAX_TRIAL_DAYS = 365
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")  # plan and product keys
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")  # features, limits, meters, properties
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_KEY_MAX = 40
_NAME_MAX = 64


# Loading


def default_catalog_path() -> Path:
    """The catalog packaged with ninefold: ``core/billing/plans.toml``."""
    return Path(str(resources.files("core.billing").joinpath("plans.toml")))


def load_catalog(path: str | os.PathLike[str] | None = None) -> Catalog:
    """Read and check the catalog at ``path`` (default: the packaged one). Raises
    ``CatalogError``, naming the file, when it cannot be read or is not valid."""
    file = Path(path) if path else default_catalog_path()
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogError("", f"cannot read it: {exc.strerror or exc}", source=str(file)) from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CatalogError("", f"not valid TOML: {exc}", source=str(file)) from exc
    try:
        return parse_catalog(data)
    except CatalogError as exc:
        raise CatalogError(exc.path, exc.reason, source=str(file)) from None


def parse_catalog(data: Mapping[str, Any]) -> Catalog:
    """Check ``data`` (a TOML document as a dict) and build the catalog from it."""
    top = _table(
        data, "", required={"version", "fallback", "plans"}, optional={"meters", "products"}
    )
    version = _int(top["version"], "version", minimum=1)
    meters = _meters(top.get("meters", {}))
    plans = _plans(top["plans"], meters)
    fallback = _str(top["fallback"], "fallback")
    by_key = {plan.key: plan for plan in plans}
    if fallback not in by_key:
        raise CatalogError("fallback", f"names no plan: {fallback!r} (plans: {', '.join(by_key)})")
    _check_free(by_key[fallback])
    products = _products(top.get("products", []), set(by_key))
    return Catalog(
        version=version, fallback=fallback, plans=plans, meters=meters, products=products
    )


# Sections


def _meters(value: Any) -> dict[str, Meter]:
    meters: dict[str, Meter] = {}
    for name, raw in _table(value, "meters").items():
        path = f"meters.{name}"
        _name(name, path, "meter")
        spec = _table(
            raw, path, required={"aggregation"}, optional={"property", "description", "unit"}
        )
        aggregation = Aggregation(_choice(spec["aggregation"], f"{path}.aggregation", Aggregation))
        prop: str | None = None
        if aggregation is Aggregation.COUNT:
            if "property" in spec:
                raise CatalogError(f"{path}.property", "a count meter counts events: drop it")
        elif "property" not in spec:
            raise CatalogError(
                f"{path}.property", f"missing: a {aggregation} meter names the event property"
            )
        else:
            prop = _name(spec["property"], f"{path}.property", "property")
        meters[name] = Meter(
            name=name,
            aggregation=aggregation,
            property=prop,
            description=_str(spec.get("description", ""), f"{path}.description", empty=True),
            unit=_str(spec.get("unit", ""), f"{path}.unit", empty=True),
        )
    return meters


_PLAN_KEYS = {
    "description",
    "public",
    "trial_days",
    "prices",
    "features",
    "limits",
    "meters",
    "credits",
}


def _plans(value: Any, meters: Mapping[str, Meter]) -> tuple[Plan, ...]:
    raws = _array(value, "plans")
    if not raws:
        raise CatalogError("plans", "the catalog has no plan")
    plans: list[Plan] = []
    seen: set[str] = set()
    for index, raw in enumerate(raws):
        table = _table(raw, f"plans[{index}]", required={"key", "name"}, optional=_PLAN_KEYS)
        key = _key(table["key"], f"plans[{index}].key")
        if key in seen:
            raise CatalogError(f"plans[{index}].key", f"{key!r} is already a plan's key")
        seen.add(key)
        plans.append(_plan(table, f"plans[{key}]", meters))
    _check_same_limits(plans)
    return tuple(plans)


def _plan(table: Mapping[str, Any], path: str, meters: Mapping[str, Meter]) -> Plan:
    prices = _prices(table.get("prices", []), f"{path}.prices")
    currencies = {price.currency for price in prices}
    features = _array(table.get("features", []), f"{path}.features")
    feature_names: set[str] = set()
    for index, feature in enumerate(features):
        name = _name(feature, f"{path}.features[{index}]", "feature")
        if name in feature_names:
            raise CatalogError(f"{path}.features[{index}]", f"{name!r} is listed twice")
        feature_names.add(name)
    limits = {
        _name(name, f"{path}.limits.{name}", "limit"): _limit(raw, f"{path}.limits.{name}")
        for name, raw in _table(table.get("limits", {}), f"{path}.limits").items()
    }
    plan_meters = {
        name: _plan_meter(name, raw, f"{path}.meters.{name}", meters, currencies)
        for name, raw in _table(table.get("meters", {}), f"{path}.meters").items()
    }
    credits = _credits(table["credits"], f"{path}.credits") if "credits" in table else None
    return Plan(
        key=table["key"],
        name=_str(table["name"], f"{path}.name"),
        description=_str(table.get("description", ""), f"{path}.description", empty=True),
        public=_bool(table.get("public", True), f"{path}.public"),
        trial_days=_int(table.get("trial_days", 0), f"{path}.trial_days", maximum=MAX_TRIAL_DAYS),
        prices=prices,
        features=frozenset(feature_names),
        limits=limits,
        meters=plan_meters,
        credits=credits,
    )


def _prices(value: Any, path: str) -> tuple[Price, ...]:
    prices: list[Price] = []
    seen: set[tuple[str, str]] = set()
    for index, raw in enumerate(_array(value, path)):
        at = f"{path}[{index}]"
        table = _table(
            raw,
            at,
            required={"interval", "currency", "amount"},
            optional={"per_seat", "included_seats"},
        )
        interval = BillingInterval(_choice(table["interval"], f"{at}.interval", BillingInterval))
        currency = _currency(table["currency"], f"{at}.currency")
        if (interval, currency) in seen:
            raise CatalogError(at, f"a second {interval} price in {currency}")
        seen.add((interval, currency))
        per_seat = _bool(table.get("per_seat", False), f"{at}.per_seat")
        included = _int(table.get("included_seats", 0), f"{at}.included_seats")
        if included and not per_seat:
            raise CatalogError(f"{at}.included_seats", "only per-seat prices include seats")
        prices.append(
            Price(
                interval=interval,
                currency=currency,
                amount=_int(table["amount"], f"{at}.amount"),
                per_seat=per_seat,
                included_seats=included,
            )
        )
    return tuple(prices)


def _plan_meter(
    name: str,
    value: Any,
    path: str,
    meters: Mapping[str, Meter],
    currencies: set[str],
) -> PlanMeter:
    if name not in meters:
        declared = ", ".join(meters) or "none"
        raise CatalogError(
            path, f"no meter {name!r} is declared in [meters] (declared: {declared})"
        )
    table = _table(value, path, optional={"included", "overage", "limit"})
    overage = (
        _overage(table["overage"], f"{path}.overage", currencies) if "overage" in table else ()
    )
    limit = MeterLimits()
    if "limit" in table:
        limits = _table(table["limit"], f"{path}.limit", optional={"hard", "soft"})
        hard = _limit(limits.get("hard"), f"{path}.limit.hard")
        soft = _limit(limits.get("soft"), f"{path}.limit.soft")
        if hard is not None and soft is not None and soft > hard:
            raise CatalogError(f"{path}.limit.soft", f"above the hard limit ({soft} > {hard})")
        limit = MeterLimits(hard=hard, soft=soft)
    return PlanMeter(
        meter=name,
        included=_int(table.get("included", 0), f"{path}.included"),
        overage=overage,
        limit=limit,
    )


def _overage(value: Any, path: str, currencies: set[str]) -> tuple[Overage, ...]:
    """One table (a plan priced in one currency) or an array of them, one per currency."""
    single = isinstance(value, Mapping)
    raws = [value] if single else _array(value, path)
    overage: list[Overage] = []
    for index, raw in enumerate(raws):
        at = path if single else f"{path}[{index}]"
        table = _table(raw, at, required={"currency", "amount"}, optional={"unit_size"})
        currency = _currency(table["currency"], f"{at}.currency")
        if currency not in currencies:
            priced = ", ".join(sorted(currencies)) or "nothing"
            raise CatalogError(f"{at}.currency", f"the plan is not priced in {currency} ({priced})")
        if any(o.currency == currency for o in overage):
            raise CatalogError(f"{at}.currency", f"a second overage price in {currency}")
        overage.append(
            Overage(
                currency=currency,
                amount=_int(table["amount"], f"{at}.amount"),
                unit_size=_int(table.get("unit_size", 1), f"{at}.unit_size", minimum=1),
            )
        )
    missing = currencies - {o.currency for o in overage}
    if missing:
        raise CatalogError(path, f"no overage price in {', '.join(sorted(missing))}")
    return tuple(overage)


def _credits(value: Any, path: str) -> CreditAllocation:
    table = _table(
        value, path, required={"amount", "period"}, optional={"rollover_cap", "overdraft"}
    )
    return CreditAllocation(
        amount=_int(table["amount"], f"{path}.amount", minimum=1),
        period=CreditPeriod(_choice(table["period"], f"{path}.period", CreditPeriod)),
        rollover_cap=_limit(table.get("rollover_cap", 0), f"{path}.rollover_cap"),
        overdraft=_int(table.get("overdraft", 0), f"{path}.overdraft"),
    )


def _products(value: Any, plan_keys: set[str]) -> tuple[Product, ...]:
    products: list[Product] = []
    seen: set[str] = set()
    for index, raw in enumerate(_array(value, "products")):
        table = _table(
            raw,
            f"products[{index}]",
            required={"key", "name", "prices", "credits"},
            optional={"description", "public"},
        )
        key = _key(table["key"], f"products[{index}].key")
        if key in seen or key in plan_keys:
            kind = "product's" if key in seen else "plan's"
            raise CatalogError(f"products[{index}].key", f"{key!r} is already a {kind} key")
        seen.add(key)
        path = f"products[{key}]"
        prices: list[ProductPrice] = []
        raws = _array(table["prices"], f"{path}.prices")
        if not raws:
            raise CatalogError(f"{path}.prices", "a product has at least one price")
        for i, raw_price in enumerate(raws):
            at = f"{path}.prices[{i}]"
            price = _table(raw_price, at, required={"currency", "amount"})
            currency = _currency(price["currency"], f"{at}.currency")
            if any(p.currency == currency for p in prices):
                raise CatalogError(at, f"a second price in {currency}")
            prices.append(
                ProductPrice(currency=currency, amount=_int(price["amount"], f"{at}.amount"))
            )
        products.append(
            Product(
                key=key,
                name=_str(table["name"], f"{path}.name"),
                credits=_int(table["credits"], f"{path}.credits", minimum=1),
                prices=tuple(prices),
                description=_str(table.get("description", ""), f"{path}.description", empty=True),
                public=_bool(table.get("public", True), f"{path}.public"),
            )
        )
    return tuple(products)


def _check_same_limits(plans: list[Plan]) -> None:
    """A limit one plan names and another does not would be unlimited or zero on the
    other only by accident: every plan names every limit."""
    names = {name for plan in plans for name in plan.limits}
    for plan in plans:
        missing = sorted(names - plan.limits.keys())
        if missing:
            raise CatalogError(
                f"plans[{plan.key}].limits.{missing[0]}",
                f'missing: another plan names it; every plan names every limit ("{UNLIMITED}" '
                "for none)",
            )


def _check_free(plan: Plan) -> None:
    path = f"plans[{plan.key}]"
    for index, price in enumerate(plan.prices):
        if price.amount:
            raise CatalogError(
                f"{path}.prices[{index}].amount", "the fallback plan is free: no paid price"
            )
    for name, terms in plan.meters.items():
        if terms.overage:
            raise CatalogError(
                f"{path}.meters.{name}.overage", "the fallback plan is free: no overage price"
            )
    if plan.trial_days:
        raise CatalogError(f"{path}.trial_days", "the fallback plan is free: no trial")


# Values


def _table(
    value: Any,
    path: str,
    *,
    required: set[str] | frozenset[str] = frozenset(),
    optional: set[str] | frozenset[str] | None = None,
) -> Mapping[str, Any]:
    """A table whose keys are checked when ``optional`` is given (``None``: any keys)."""
    if not isinstance(value, Mapping):
        raise CatalogError(path, f"expected a table, got {_kind(value)}")
    for key in value:
        if not isinstance(key, str):
            raise CatalogError(path, f"keys are strings: {key!r}")
        if optional is not None and key not in required and key not in optional:
            known = ", ".join(sorted(required | optional))
            raise CatalogError(_join(path, key), f"unknown key (known: {known})")
    for key in sorted(required):
        if key not in value:
            raise CatalogError(_join(path, key), "missing")
    return value


def _array(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise CatalogError(path, f"expected an array, got {_kind(value)}")
    return list(value)


def _int(value: Any, path: str, *, minimum: int = 0, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CatalogError(path, f"expected a whole number, got {_kind(value)}")
    if value < minimum:
        raise CatalogError(path, f"at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise CatalogError(path, f"at most {maximum}, got {value}")
    return value


def _limit(value: Any, path: str) -> int | None:
    """A whole number ≥ 0, or none (``"unlimited"``, ``None``, or the key left out)."""
    if value is None or value == UNLIMITED:
        return None
    if isinstance(value, str):
        raise CatalogError(path, f'expected a whole number or "{UNLIMITED}", got {value!r}')
    return _int(value, path)


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise CatalogError(path, f"expected true or false, got {_kind(value)}")
    return value


def _str(value: Any, path: str, *, empty: bool = False) -> str:
    if not isinstance(value, str):
        raise CatalogError(path, f"expected a string, got {_kind(value)}")
    if not empty and not value.strip():
        raise CatalogError(path, "must not be empty")
    return value


def _key(value: Any, path: str) -> str:
    key = _str(value, path)
    if len(key) > _KEY_MAX or not _SLUG.match(key):
        raise CatalogError(
            path, f"a slug of lowercase letters, digits and '-' (at most {_KEY_MAX}): {key!r}"
        )
    return key


def _name(value: Any, path: str, what: str) -> str:
    name = _str(value, path)
    if len(name) > _NAME_MAX or not _NAME.match(name):
        raise CatalogError(
            path, f"{what} names are lowercase letters, digits and '_', a letter first: {name!r}"
        )
    return name


def _currency(value: Any, path: str) -> str:
    currency = _str(value, path)
    if not _CURRENCY.match(currency):
        raise CatalogError(
            path, f"an ISO 4217 code of 3 uppercase letters like 'USD': {currency!r}"
        )
    return currency


def _choice(value: Any, path: str, choices: type[enum.StrEnum]) -> str:
    allowed = [choice.value for choice in choices]
    if value not in allowed:
        raise CatalogError(path, f"one of {', '.join(allowed)}: got {value!r}")
    return str(value)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(value: Any) -> str:
    names = {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        type(None): "nothing",
    }
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "an array"
    return names.get(type(value), type(value).__name__) + (
        f" ({value!r})" if isinstance(value, bool | int | float | str) else ""
    )
