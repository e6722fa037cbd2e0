"""The plan catalog: the packaged file, its validation (each problem names its key path)
and the lookups other parts of billing use."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.billing import (
    BillingInterval,
    CatalogError,
    CreditPeriod,
    Price,
    UnknownPlanError,
    UnknownPriceError,
    UnknownProductError,
    default_catalog_path,
    load_catalog,
    parse_catalog,
)
from core.billing.errors import UnknownMeterError
from core.billing.usage import Aggregation, MeterSpec
from core.kernel import Money

Doc = dict[str, Any]


def default_doc() -> Doc:
    return tomllib.loads(default_catalog_path().read_text())


def plan_of(doc: Doc, key: str) -> Doc:
    plan: Doc = next(p for p in doc["plans"] if p["key"] == key)
    return plan


def edited(edit: Callable[[Doc], object]) -> Doc:
    doc = copy.deepcopy(default_doc())
    edit(doc)
    return doc


# The packaged catalog


def test_the_packaged_catalog_loads_with_free_as_its_fallback() -> None:
    catalog = load_catalog()

    assert catalog.version >= 1
    assert catalog.fallback_plan.key == "free"
    assert [plan.key for plan in catalog.public_plans()] == ["free", "pro", "business"]
    assert catalog.public_currencies() == ("EUR", "USD")


def test_the_free_plan_is_small_and_costs_nothing() -> None:
    free = load_catalog().plan("free")

    assert free.prices == ()
    assert free.limit("seats") == 3
    assert free.meter("api_calls").included == 1_000
    assert free.meter("api_calls").limit.soft == 1_000
    assert free.credits is not None
    assert (free.credits.amount, free.credits.period) == (100, CreditPeriod.MONTH)


def test_pro_is_priced_per_seat_monthly_and_yearly_in_usd_and_eur() -> None:
    pro = load_catalog().plan("pro")

    assert {(p.interval, p.currency) for p in pro.prices} == {
        (BillingInterval.MONTH, "USD"),
        (BillingInterval.YEAR, "USD"),
        (BillingInterval.MONTH, "EUR"),
        (BillingInterval.YEAR, "EUR"),
    }
    assert all(p.per_seat and p.included_seats == 3 for p in pro.prices)
    assert pro.trial_days == 14
    assert pro.limit("seats") is None
    assert pro.credits is not None
    assert (pro.credits.amount, pro.credits.rollover_cap) == (1_000, 2_000)


def test_pro_meters_api_calls_with_overage_and_storage_with_a_hard_limit() -> None:
    catalog = load_catalog()
    pro = catalog.plan("pro")

    assert catalog.meter("api_calls").aggregation is Aggregation.COUNT
    assert catalog.meter("storage_gb").aggregation is Aggregation.MAX
    assert pro.meter("api_calls").included == 100_000
    overage = pro.meter("api_calls").overage_in("USD")
    assert overage is not None
    assert overage.unit_size == 1_000
    assert pro.meter("storage_gb").limit.hard is not None


def test_the_packaged_catalog_sells_a_pack_of_5000_credits() -> None:
    pack = load_catalog().product("credits-5000")

    assert pack.credits == 5_000
    assert pack.price("USD").money == Money(1_000, "USD")


def test_the_packaged_file_sits_in_the_billing_package() -> None:
    path = default_catalog_path()

    assert path.name == "plans.toml"
    assert path.parent.name == "billing"
    assert path.is_file()


# Validation: every problem names its key path


def _step(target: Any, step: Any) -> Any:
    """``"@pro"`` steps into the plan of that key, anything else indexes."""
    if isinstance(step, str) and step.startswith("@"):
        return next(plan for plan in target if plan["key"] == step[1:])
    return target[step]


def _walk(doc: Doc, path: list[Any]) -> Any:
    target: Any = doc
    for step in path:
        target = _step(target, step)
    return target


def _set(path: list[Any], value: Any) -> Callable[[Doc], None]:
    def edit(doc: Doc) -> None:
        _walk(doc, path[:-1])[path[-1]] = value

    return edit


def _delete(path: list[Any]) -> Callable[[Doc], None]:
    def edit(doc: Doc) -> None:
        del _walk(doc, path[:-1])[path[-1]]

    return edit


def _append(path: list[Any], value: Any) -> Callable[[Doc], None]:
    def edit(doc: Doc) -> None:
        _walk(doc, path).append(value)

    return edit


def _free_with_overage(doc: Doc) -> None:
    free = plan_of(doc, "free")
    free["prices"] = [{"interval": "month", "currency": "USD", "amount": 0}]
    free["meters"]["api_calls"]["overage"] = {"currency": "USD", "amount": 1}


PRO = ["plans", "@pro"]
PRO_PRICE = [*PRO, "prices", 0]
PRO_API = [*PRO, "meters", "api_calls"]
PRO_CREDITS = [*PRO, "credits"]
PACK = ["products", 0]

INVALID: list[tuple[str, Callable[[Doc], object], str, str]] = [
    # (case, edit, the path named, part of the reason)
    ("no version", _delete(["version"]), "version", "missing"),
    ("version zero", _set(["version"], 0), "version", "at least 1"),
    ("version as text", _set(["version"], "1"), "version", "whole number"),
    ("unknown top-level key", _set(["plan"], []), "plan", "unknown key"),
    ("no fallback", _delete(["fallback"]), "fallback", "missing"),
    ("fallback names no plan", _set(["fallback"], "starter"), "fallback", "names no plan"),
    ("fallback is paid", _set(["fallback"], "pro"), "plans[pro].prices[0].amount", "free"),
    ("fallback has a trial", _set(["plans", 0, "trial_days"], 7), "plans[free].trial_days", "free"),
    (
        "fallback charges overage",
        _free_with_overage,
        "plans[free].meters.api_calls.overage",
        "free",
    ),
    ("plans not an array", _set(["plans"], {}), "plans", "expected an array"),
    ("no plans", _set(["plans"], []), "plans", "no plan"),
    ("plan not a table", _set(["plans", 1], "pro"), "plans[1]", "expected a table"),
    ("plan without key", _delete(["plans", 1, "key"]), "plans[1].key", "missing"),
    ("plan key not a slug", _set(["plans", 1, "key"], "Pro Plan"), "plans[1].key", "slug"),
    ("duplicate plan key", _set(["plans", 2, "key"], "pro"), "plans[2].key", "already"),
    ("misspelt plan key", _set(["plans", 1, "trail_days"], 7), "plans[1].trail_days", "unknown"),
    ("empty plan name", _set([*PRO, "name"], " "), "plans[pro].name", "empty"),
    ("public not a bool", _set([*PRO, "public"], "yes"), "plans[pro].public", "true"),
    ("negative trial", _set([*PRO, "trial_days"], -1), "plans[pro].trial_days", "least"),
    ("year-long trial", _set([*PRO, "trial_days"], 400), "plans[pro].trial_days", "most"),
    (
        "weekly price",
        _set([*PRO_PRICE, "interval"], "week"),
        "plans[pro].prices[0].interval",
        "one of",
    ),
    (
        "lowercase currency",
        _set([*PRO_PRICE, "currency"], "usd"),
        "plans[pro].prices[0].currency",
        "ISO",
    ),
    (
        "negative amount",
        _set([*PRO_PRICE, "amount"], -1),
        "plans[pro].prices[0].amount",
        "at least 0",
    ),
    (
        "amount in dollars",
        _set([*PRO_PRICE, "amount"], 9.99),
        "plans[pro].prices[0].amount",
        "whole",
    ),
    ("amount as bool", _set([*PRO_PRICE, "amount"], True), "plans[pro].prices[0].amount", "whole"),
    (
        "price without currency",
        _delete([*PRO_PRICE, "currency"]),
        "plans[pro].prices[0].currency",
        "missing",
    ),
    (
        "two monthly USD prices",
        _set([*PRO, "prices", 1, "interval"], "month"),
        "plans[pro].prices[1]",
        "second month price in USD",
    ),
    (
        "seats on a flat price",
        _set([*PRO_PRICE, "per_seat"], False),
        "plans[pro].prices[0].included_seats",
        "per-seat",
    ),
    ("prices not an array", _set([*PRO, "prices"], {}), "plans[pro].prices", "array"),
    (
        "bad feature name",
        _set([*PRO, "features", 1], "Custom Domain"),
        "plans[pro].features[1]",
        "feature names",
    ),
    ("feature twice", _append([*PRO, "features"], "webhooks"), "plans[pro].features[3]", "twice"),
    (
        "limit as words",
        _set([*PRO, "limits", "projects"], "lots"),
        "plans[pro].limits.projects",
        "unlimited",
    ),
    (
        "negative limit",
        _set([*PRO, "limits", "projects"], -1),
        "plans[pro].limits.projects",
        "at least 0",
    ),
    (
        "bad limit name",
        _set([*PRO, "limits", "Max-Projects"], 1),
        "plans[pro].limits.Max-Projects",
        "limit names",
    ),
    (
        "limit one plan omits",
        _delete([*PRO, "limits", "projects"]),
        "plans[pro].limits.projects",
        "every plan names every limit",
    ),
    (
        "meter not declared",
        _set([*PRO, "meters", "bandwidth"], {}),
        "plans[pro].meters.bandwidth",
        "declared",
    ),
    (
        "unknown aggregation",
        _set(["meters", "api_calls", "aggregation"], "avg"),
        "meters.api_calls.aggregation",
        "one of",
    ),
    (
        "max meter without property",
        _delete(["meters", "storage_gb", "property"]),
        "meters.storage_gb.property",
        "missing",
    ),
    (
        "count meter with property",
        _set(["meters", "api_calls", "property"], "n"),
        "meters.api_calls.property",
        "count",
    ),
    (
        "bad meter name",
        _set(["meters", "API-calls"], {"aggregation": "count"}),
        "meters.API-calls",
        "meter names",
    ),
    (
        "meter without aggregation",
        _set(["meters", "seats"], {}),
        "meters.seats.aggregation",
        "missing",
    ),
    (
        "misspelt meter term",
        _set([*PRO_API, "includes"], 5),
        "plans[pro].meters.api_calls.includes",
        "unknown",
    ),
    (
        "negative included",
        _set([*PRO_API, "included"], -5),
        "plans[pro].meters.api_calls.included",
        "at least 0",
    ),
    (
        "overage in an unpriced currency",
        _set([*PRO_API, "overage", 1, "currency"], "GBP"),
        "plans[pro].meters.api_calls.overage[1].currency",
        "not priced in GBP",
    ),
    (
        "overage missing a currency",
        _set([*PRO_API, "overage"], [{"currency": "USD", "amount": 5}]),
        "plans[pro].meters.api_calls.overage",
        "no overage price in EUR",
    ),
    (
        "overage twice in a currency",
        _set([*PRO_API, "overage", 1, "currency"], "USD"),
        "plans[pro].meters.api_calls.overage[1].currency",
        "second",
    ),
    (
        "overage unit of zero",
        _set([*PRO_API, "overage", 0, "unit_size"], 0),
        "plans[pro].meters.api_calls.overage[0].unit_size",
        "at least 1",
    ),
    (
        "soft above hard",
        _set([*PRO, "meters", "storage_gb", "limit", "soft"], 600),
        "plans[pro].meters.storage_gb.limit.soft",
        "above the hard limit",
    ),
    (
        "misspelt limit kind",
        _set([*PRO_API, "limit", "max"], 5),
        "plans[pro].meters.api_calls.limit.max",
        "unknown",
    ),
    (
        "weekly credits",
        _set([*PRO_CREDITS, "period"], "week"),
        "plans[pro].credits.period",
        "one of",
    ),
    (
        "credits without period",
        _delete([*PRO_CREDITS, "period"]),
        "plans[pro].credits.period",
        "missing",
    ),
    ("zero credits", _set([*PRO_CREDITS, "amount"], 0), "plans[pro].credits.amount", "at least 1"),
    (
        "negative overdraft",
        _set([*PRO_CREDITS, "overdraft"], -5),
        "plans[pro].credits.overdraft",
        "at least 0",
    ),
    (
        "rollover cap as words",
        _set([*PRO_CREDITS, "rollover_cap"], "all"),
        "plans[pro].credits.rollover_cap",
        "unlimited",
    ),
    ("product without credits", _delete([*PACK, "credits"]), "products[0].credits", "missing"),
    ("product key of a plan", _set([*PACK, "key"], "pro"), "products[0].key", "plan's key"),
    (
        "duplicate product key",
        _append(["products"], {"key": "credits-5000", "name": "x", "prices": [], "credits": 1}),
        "products[1].key",
        "product's key",
    ),
    (
        "product without prices",
        _set([*PACK, "prices"], []),
        "products[credits-5000].prices",
        "at least one",
    ),
    (
        "product priced twice in USD",
        _set([*PACK, "prices", 1, "currency"], "USD"),
        "products[credits-5000].prices[1]",
        "second price in USD",
    ),
    (
        "product of zero credits",
        _set([*PACK, "credits"], 0),
        "products[credits-5000].credits",
        "at least 1",
    ),
]


@pytest.mark.parametrize(
    ("edit", "path", "reason"),
    [pytest.param(edit, path, reason, id=case) for case, edit, path, reason in INVALID],
)
def test_an_invalid_catalog_is_refused_naming_the_key_path(
    edit: Callable[[Doc], object], path: str, reason: str
) -> None:
    with pytest.raises(CatalogError) as raised:
        parse_catalog(edited(edit))

    assert raised.value.path == path
    assert reason in raised.value.reason
    assert str(raised.value).startswith(f"{path}: ")


def test_a_catalog_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"^version: missing$"):
        parse_catalog({"fallback": "free", "plans": []})


def test_a_file_that_is_not_toml_is_refused_naming_the_file(tmp_path: Path) -> None:
    file = tmp_path / "plans.toml"
    file.write_text("version = \n")

    with pytest.raises(CatalogError, match="not valid TOML") as raised:
        load_catalog(file)

    assert raised.value.source == str(file)


def test_a_missing_file_is_refused_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot read it") as raised:
        load_catalog(tmp_path / "nowhere.toml")

    assert str(raised.value).startswith(str(tmp_path / "nowhere.toml"))


def test_a_problem_in_a_file_names_the_file_and_the_key_path(tmp_path: Path) -> None:
    file = tmp_path / "plans.toml"
    file.write_text(default_catalog_path().read_text().replace("version = 1", "version = 0"))

    with pytest.raises(CatalogError) as raised:
        load_catalog(str(file))

    assert raised.value.path == "version"
    assert str(raised.value) == f"{file}: version: at least 1, got 0"


# Forms the format allows


def test_unlimited_is_written_as_a_word_or_given_as_none() -> None:
    as_word = parse_catalog(edited(_set([*PRO, "limits", "projects"], "unlimited")))
    as_none = parse_catalog(edited(_set([*PRO, "limits", "projects"], None)))

    assert as_word.plan("pro").limit("projects") is None
    assert as_none.plan("pro").limit("projects") is None


def test_a_plan_in_one_currency_may_give_its_overage_as_one_table() -> None:
    def usd_only(doc: Doc) -> None:
        pro = plan_of(doc, "pro")
        pro["prices"] = [p for p in pro["prices"] if p["currency"] == "USD"]
        pro["meters"]["api_calls"]["overage"] = {"currency": "USD", "amount": 50}
        pro["meters"]["storage_gb"]["overage"] = {"currency": "USD", "amount": 25}

    pro = parse_catalog(edited(usd_only)).plan("pro")

    overage = pro.meter("api_calls").overage_in("USD")
    assert overage is not None
    assert (overage.amount, overage.unit_size) == (50, 1)


def test_credits_roll_over_entirely_without_a_cap_and_not_at_all_by_default() -> None:
    uncapped = parse_catalog(edited(_set([*PRO_CREDITS, "rollover_cap"], "unlimited")))
    by_default = load_catalog().plan("free").credits

    assert uncapped.plan("pro").credits is not None
    assert uncapped.plan("pro").credits.rollover_cap is None
    assert by_default is not None
    assert by_default.rollover_cap == 0


def test_an_annual_plan_may_allocate_its_credits_every_month_or_once_a_year() -> None:
    yearly = parse_catalog(edited(_set([*PRO_CREDITS, "period"], "interval")))

    assert yearly.plan("pro").credits is not None
    assert yearly.plan("pro").credits.period is CreditPeriod.INTERVAL


def test_a_catalog_needs_no_meters_and_no_products() -> None:
    catalog = parse_catalog(
        {"version": 3, "fallback": "free", "plans": [{"key": "free", "name": "Free"}]}
    )

    assert catalog.meters == {}
    assert catalog.products == ()
    assert catalog.fallback_plan.name == "Free"


# Lookups


def test_a_plan_is_found_by_its_key_and_an_unknown_key_is_a_404() -> None:
    catalog = load_catalog()

    assert catalog.plan("business").name == "Business"
    with pytest.raises(UnknownPlanError) as raised:
        catalog.plan("platinum")
    assert (raised.value.type, raised.value.status) == ("billing/unknown-plan", 404)


def test_a_price_is_found_by_plan_interval_and_currency() -> None:
    catalog = load_catalog()

    price = catalog.price("pro", "year", "EUR")

    assert price.money == Money(14_000, "EUR")
    assert catalog.price(catalog.plan("pro"), BillingInterval.MONTH, "USD").amount == 1_500


@pytest.mark.parametrize(("interval", "currency"), [("year", "GBP"), ("week", "USD")])
def test_a_price_the_plan_does_not_have_is_a_422(interval: str, currency: str) -> None:
    with pytest.raises(UnknownPriceError) as raised:
        load_catalog().price("pro", interval, currency)

    assert (raised.value.type, raised.value.status) == ("billing/unknown-price", 422)
    assert raised.value.extra == {"plan": "pro", "interval": interval, "currency": currency}


def test_the_free_plan_has_no_price_to_check_out() -> None:
    with pytest.raises(UnknownPriceError):
        load_catalog().price("free", "month", "USD")


def test_a_meter_is_found_by_name_and_an_unknown_one_is_refused() -> None:
    catalog = load_catalog()

    assert catalog.meter("storage_gb").property == "gb"
    with pytest.raises(UnknownMeterError) as raised:
        catalog.meter("bandwidth")
    assert raised.value.type == "billing/unknown-meter"


def test_the_meters_are_what_usage_ingestion_expects() -> None:
    specs = load_catalog().meter_specs()

    assert specs == {
        "api_calls": MeterSpec("api_calls", Aggregation.COUNT),
        "storage_gb": MeterSpec("storage_gb", Aggregation.MAX, "gb"),
    }


def test_a_product_is_found_by_its_key_and_an_unknown_one_is_a_404() -> None:
    catalog = load_catalog()

    assert catalog.product("credits-5000").name == "5,000 credits"
    with pytest.raises(UnknownProductError) as raised:
        catalog.product("credits-1")
    assert raised.value.status == 404
    with pytest.raises(UnknownPriceError):
        catalog.product("credits-5000").price("JPY")


def test_hidden_plans_are_found_by_key_but_not_listed() -> None:
    catalog = parse_catalog(edited(_set(["plans", "@business", "public"], False)))

    assert [plan.key for plan in catalog.public_plans()] == ["free", "pro"]
    assert catalog.plan("business").public is False


def test_public_currencies_leave_out_those_only_hidden_things_are_priced_in() -> None:
    def gbp_only_on_hidden(doc: Doc) -> None:
        hidden = copy.deepcopy(plan_of(doc, "pro"))
        hidden.update(key="legacy", public=False, meters={})
        hidden["prices"] = [{"interval": "month", "currency": "GBP", "amount": 900}]
        doc["plans"].append(hidden)

    catalog = parse_catalog(edited(gbp_only_on_hidden))

    assert catalog.public_currencies() == ("EUR", "USD")


def test_features_and_limits_answer_entitlement_questions() -> None:
    catalog = load_catalog()

    assert catalog.plan("business").has_feature("sso")
    assert not catalog.plan("pro").has_feature("sso")
    assert catalog.plan("business").limit("projects") is None
    with pytest.raises(KeyError):
        catalog.plan("pro").limit("bananas")


def test_a_meter_a_plan_does_not_name_includes_nothing_and_has_no_limit() -> None:
    catalog = parse_catalog(edited(_delete([*PRO, "meters", "storage_gb"])))

    terms = catalog.plan("pro").meter("storage_gb")

    assert (terms.included, terms.overage, terms.limit.hard, terms.limit.soft) == (
        0,
        (),
        None,
        None,
    )


# Money


@pytest.mark.parametrize(("seats", "billed"), [(1, 3), (3, 3), (5, 5)])
def test_a_per_seat_price_bills_at_least_its_included_seats(seats: int, billed: int) -> None:
    price = load_catalog().price("pro", "month", "USD")

    assert price.billable_seats(seats) == billed
    assert price.charge(seats) == Money(1_500 * billed, "USD")


def test_a_flat_price_ignores_seats() -> None:
    price = Price(interval=BillingInterval.MONTH, currency="USD", amount=2_900)

    assert price.billable_seats(12) == 1
    assert price.charge(12) == Money(2_900, "USD")


@pytest.mark.parametrize(("over", "blocks"), [(0, 0), (-3, 0), (1, 1), (1_000, 1), (1_001, 2)])
def test_overage_charges_every_started_block_of_units(over: float, blocks: int) -> None:
    overage = load_catalog().plan("pro").meter("api_calls").overage_in("USD")
    assert overage is not None

    assert overage.charge(over) == Money(50 * blocks, "USD")


# Versioning


def test_the_fingerprint_changes_with_any_content_and_only_with_content() -> None:
    same = parse_catalog(default_doc())
    changed = parse_catalog(edited(_set([*PRO, "trial_days"], 30)))

    assert load_catalog().fingerprint() == same.fingerprint()
    assert changed.fingerprint() != same.fingerprint()
    assert len(same.fingerprint()) == 64
