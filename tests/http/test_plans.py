"""GET /api/v1/plans: the public catalog, its currency filter and its HTTP caching."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from entrypoints.containers import build_container, close_container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from entrypoints.testing.plugin import serve_in_process, settings_with

BASE = "https://ninefold.dev/problems/"
PLANS = "/api/v1/plans"

CUSTOM = """
version = 7
fallback = "free"

[meters.seats_used]
aggregation = "max"
property = "seats"

[[plans]]
key = "free"
name = "Free"

[[plans]]
key = "team"
name = "Team"
prices = [{ interval = "month", currency = "USD", amount = 900 }]

[[plans]]
key = "legacy-2019"
name = "Legacy"
public = false
prices = [{ interval = "month", currency = "GBP", amount = 500 }]

[[products]]
key = "secret-pack"
name = "Staff-only pack"
public = false
credits = 10
prices = [{ currency = "USD", amount = 100 }]
"""


@pytest.fixture
async def custom_client(settings: Settings, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The app serving a catalog file of its own: a hidden plan priced in GBP only."""
    file = tmp_path / "plans.toml"
    file.write_text(CUSTOM)
    container = build_container(settings_with(settings, billing_plans_file=str(file)))
    try:
        async with serve_in_process(create_app(container, run_worker=False)) as client:
            yield client
    finally:
        await close_container(container)


async def test_anyone_gets_the_public_plans_and_products_without_signing_in(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(PLANS)

    assert response.status_code == 200
    body = response.json()
    assert body["fallback"] == "free"
    assert body["currencies"] == ["EUR", "USD"]
    assert [plan["key"] for plan in body["plans"]] == ["free", "pro", "business"]
    assert [product["key"] for product in body["products"]] == ["credits-5000"]


async def test_a_plan_carries_prices_features_limits_meters_credits_and_trial(
    client: httpx.AsyncClient,
) -> None:
    body = (await client.get(PLANS)).json()

    pro = next(plan for plan in body["plans"] if plan["key"] == "pro")
    assert pro["trial_days"] == 14
    assert {
        "interval": "month",
        "currency": "USD",
        "amount": 1500,
        "per_seat": True,
        "included_seats": 3,
    } in pro["prices"]
    assert pro["features"] == ["api_access", "custom_domain", "webhooks"]
    assert pro["limits"] == {"seats": None, "projects": 50}
    api_calls = next(meter for meter in pro["meters"] if meter["meter"] == "api_calls")
    assert api_calls["aggregation"] == "count"
    assert api_calls["included"] == 100_000
    assert {"currency": "USD", "amount": 50, "unit_size": 1000} in api_calls["overage"]
    assert api_calls["limit"] == {"hard": None, "soft": 1_000_000}
    assert pro["credits"] == {
        "amount": 1000,
        "period": "month",
        "rollover_cap": 2000,
        "overdraft": 0,
    }


async def test_a_currency_keeps_only_the_prices_in_it(client: httpx.AsyncClient) -> None:
    response = await client.get(PLANS, params={"currency": "EUR"})

    assert response.status_code == 200
    body = response.json()
    assert [plan["key"] for plan in body["plans"]] == ["free", "pro", "business"]
    currencies = {price["currency"] for plan in body["plans"] for price in plan["prices"]}
    overage = {
        o["currency"] for plan in body["plans"] for m in plan["meters"] for o in m["overage"]
    }
    assert currencies == overage == {"EUR"}
    assert body["products"][0]["prices"] == [{"currency": "EUR", "amount": 900}]


async def test_the_currency_may_be_given_in_lowercase(client: httpx.AsyncClient) -> None:
    lower = await client.get(PLANS, params={"currency": "eur"})
    upper = await client.get(PLANS, params={"currency": "EUR"})

    assert lower.status_code == 200
    assert lower.json() == upper.json()


@pytest.mark.parametrize("currency", ["GBP", "euro"])
async def test_an_unknown_currency_is_a_422_listing_the_available_ones(
    client: httpx.AsyncClient, currency: str
) -> None:
    response = await client.get(PLANS, params={"currency": currency})

    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"] == BASE + "billing/unknown-currency"
    assert problem["available"] == ["EUR", "USD"]
    assert "etag" not in response.headers


async def test_the_answer_is_publicly_cacheable_for_five_minutes_with_an_etag(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(PLANS)

    assert response.headers["cache-control"] == "public, max-age=300"
    etag = response.headers["etag"]
    assert etag.startswith('"v1-')
    assert etag.endswith('"')


async def test_each_currency_has_its_own_etag(client: httpx.AsyncClient) -> None:
    everything = await client.get(PLANS)
    in_euros = await client.get(PLANS, params={"currency": "EUR"})

    assert everything.headers["etag"] != in_euros.headers["etag"]


async def test_sending_the_etag_back_answers_304_without_a_body(
    client: httpx.AsyncClient,
) -> None:
    etag = (await client.get(PLANS)).headers["etag"]

    response = await client.get(PLANS, headers={"If-None-Match": etag})

    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag
    assert response.headers["cache-control"] == "public, max-age=300"


@pytest.mark.parametrize(
    "if_none_match", ["W/{etag}", '"other", {etag}', "*"], ids=["weak", "in-a-list", "any"]
)
async def test_if_none_match_compares_weakly_and_accepts_lists(
    client: httpx.AsyncClient, if_none_match: str
) -> None:
    etag = (await client.get(PLANS)).headers["etag"]

    response = await client.get(PLANS, headers={"If-None-Match": if_none_match.format(etag=etag)})

    assert response.status_code == 304


async def test_a_stale_etag_gets_the_catalog(client: httpx.AsyncClient) -> None:
    response = await client.get(PLANS, headers={"If-None-Match": '"v0-0000000000000000-all"'})

    assert response.status_code == 200
    assert response.json()["plans"]


async def test_hidden_plans_and_products_are_not_served(
    custom_client: httpx.AsyncClient,
) -> None:
    response = await custom_client.get(PLANS)

    body = response.json()
    assert body["version"] == 7
    assert [plan["key"] for plan in body["plans"]] == ["free", "team"]
    assert body["products"] == []
    assert body["currencies"] == ["USD"]
    assert response.headers["etag"].startswith('"v7-')


async def test_a_currency_only_a_hidden_plan_is_priced_in_is_unknown(
    custom_client: httpx.AsyncClient,
) -> None:
    response = await custom_client.get(PLANS, params={"currency": "GBP"})

    assert response.status_code == 422
    assert response.json()["available"] == ["USD"]


async def test_a_plan_without_a_meter_or_credits_lists_none(
    custom_client: httpx.AsyncClient,
) -> None:
    body = (await custom_client.get(PLANS, params={"currency": "USD"})).json()

    team = next(plan for plan in body["plans"] if plan["key"] == "team")
    assert team["meters"] == []
    assert team["credits"] is None
    assert team["limits"] == {}
