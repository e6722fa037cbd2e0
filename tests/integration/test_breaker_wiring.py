"""Every provider call goes through its circuit breaker, as the composition root wires
them: the payment provider (the sandbox here) behind ``payments``, Resend (the local
stand-in) behind ``email``. An open breaker makes the API answer 503 with Retry-After and
the jobs retry later; a breaker staff force open is obeyed by every process."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import timedelta

import httpx
import msgspec
import pytest
from dependency_injector import providers

from contracts.ports.email import an_email
from core.billing.errors import PaymentProviderRejectedError, PaymentProviderUnavailableError
from core.identity import StaffRole
from core.kernel import FixedClock
from core.notifications import DeliveryFilter, DeliveryStatus
from core.safety.breaker_registry import BREAKERS
from core.safety.breakers import BreakerConfig, BreakerState, CircuitOpenError
from core.workflows import JobState
from entrypoints.billing.ingest import _retryable
from entrypoints.billing.jobs import REPORT_USAGE, Tick
from entrypoints.containers import ApplicationContainer, build_container, close_container
from entrypoints.safety.guarded import EmailCircuitOpenError, PaymentsCircuitOpenError
from entrypoints.safety.runtime import SafetyRuntime
from entrypoints.settings import Settings
from entrypoints.testing.billing import sandbox, subscribe
from entrypoints.testing.people import person, staff_member, workspace_of
from entrypoints.testing.plugin import settings_with
from entrypoints.testing.resend_standin import DEFAULT_API_KEY, ResendStandin
from entrypoints.testing.workflows import run_jobs

BASE = "https://ninefold.dev/problems/"
# Trips after two calls, half of them failed; one probe after thirty seconds.
SMALL = BreakerConfig(
    window_size=4,
    minimum_calls=2,
    failure_rate_threshold=50,
    wait_in_open_seconds=30,
    permitted_calls_in_half_open=1,
)
SPECS = tuple(msgspec.structs.replace(spec, config=SMALL) for spec in BREAKERS)


@pytest.fixture
def container(container: ApplicationContainer) -> ApplicationContainer:
    container.safety.breaker_specs.override(providers.Object(SPECS))
    return container


def payments(container: ApplicationContainer) -> BreakerState:
    state: BreakerState = container.safety.breakers().breaker("payments").state
    return state


# -- payments ------------------------------------------------------------------------------


async def test_provider_outages_trip_the_payments_breaker_and_refusals_do_not(
    container: ApplicationContainer,
) -> None:
    provider = container.billing.payment_provider()

    for _ in range(3):
        provider.fail_next(400)
        with pytest.raises(PaymentProviderRejectedError):
            await provider.list_invoices("cus_1")
    assert payments(container) is BreakerState.CLOSED  # the provider answered

    for _ in range(2):
        provider.fail_next(503)
        with pytest.raises(PaymentProviderUnavailableError):
            await provider.list_invoices("cus_1")

    assert payments(container) is BreakerState.OPEN
    with pytest.raises(PaymentsCircuitOpenError) as refused:
        await provider.list_invoices("cus_1")
    # Both the breaker's refusal and the port's "unavailable": callers need nothing new.
    assert isinstance(refused.value, PaymentProviderUnavailableError)
    assert refused.value.retry_after == 30


async def test_an_open_payments_breaker_makes_checkout_answer_503_with_retry_after(
    client: httpx.AsyncClient, container: ApplicationContainer, clock: FixedClock
) -> None:
    owner = await person(client, container, "ada")
    ws = await workspace_of(client, owner)
    provider = sandbox(container)

    async def checkout() -> httpx.Response:
        return await client.post(
            f"/api/v1/workspaces/{ws}/billing/checkout",
            json={"plan": "pro", "interval": "month"},
            headers=owner.headers,
        )

    for _ in range(2):
        provider.fail_next(503)
        failed = await checkout()
        assert failed.json()["type"] == BASE + "billing/payment-provider-unavailable"

    refused = await checkout()

    assert refused.status_code == 503
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.headers["retry-after"] == "30"
    problem = refused.json()
    assert problem["type"] == BASE + "safety/circuit-open"
    assert problem["breaker"] == "payments"
    assert problem["runbook"] == "docs/runbooks/breakers/payments.md"

    clock.advance(timedelta(seconds=30))  # the next checkout is the probe; it succeeds
    assert (await checkout()).status_code == 200
    assert payments(container) is BreakerState.CLOSED


async def test_the_usage_job_retries_later_while_the_payments_breaker_is_open(
    client: httpx.AsyncClient, container: ApplicationContainer, clock: FixedClock
) -> None:
    owner = await person(client, container, "ada")
    ws = await workspace_of(client, owner)
    await subscribe(client, container, owner, ws, plan="pro")
    events = [{"id": f"call-{n}", "meter": "api_calls"} for n in range(5)]
    usage = await client.post(
        f"/api/v1/workspaces/{ws}/usage/batch", json={"events": events}, headers=owner.headers
    )
    assert usage.status_code == 200, usage.text
    container.safety.breakers().breaker("payments").force_open("the provider is down")
    async with container.unit_of_work() as uow:
        job = await container.workflows.job_queue(uow=uow).enqueue(REPORT_USAGE, Tick())
        await uow.commit()

    await run_jobs(container)

    async with container.workflows.open_store()() as store:
        waiting = await store.get(job.id)
    assert waiting is not None
    assert waiting.state is JobState.QUEUED
    assert "circuit breaker is forced_open" in (waiting.last_error or "")

    container.safety.breakers().breaker("payments").reset("the provider is back")
    clock.advance(timedelta(minutes=15))
    await run_jobs(container)

    async with container.workflows.open_store()() as store:
        done = await store.get(job.id)
    assert done is not None
    assert done.state is JobState.SUCCEEDED


def test_the_billing_webhook_job_retries_an_open_breaker() -> None:
    assert _retryable(PaymentsCircuitOpenError("payments", BreakerState.OPEN, 30))
    assert _retryable(CircuitOpenError("media", BreakerState.FORCED_OPEN, 30))


# -- email -----------------------------------------------------------------------------------


@pytest.fixture
def standin() -> Iterator[ResendStandin]:
    with ResendStandin(api_key=DEFAULT_API_KEY) as running:
        yield running


@pytest.fixture
def settings(settings: Settings, standin: ResendStandin) -> Settings:
    return settings_with(
        settings,
        email_provider="resend",
        resend_api_key=DEFAULT_API_KEY,
        resend_base_url=standin.url,
        email_from="Ninefold <no-reply@example.com>",
    )


async def sign_up(client: httpx.AsyncClient, name: str) -> None:
    response = await client.post(
        "/api/v1/auth/sign-up",
        json={
            "email": f"{name}@example.com",
            "password": "violet-kestrel-harbour-47",
            "name": name.title(),
        },
    )
    assert response.status_code == 202, response.text


async def statuses(container: ApplicationContainer) -> list[DeliveryStatus]:
    from adapters.sql.notifications.deliveries import SqlDeliveryStore

    async with container.unit_of_work() as uow:
        found = await SqlDeliveryStore(uow.session).page(DeliveryFilter(), before=None, limit=50)
    return [delivery.status for delivery in found]


async def test_resend_failing_trips_the_email_breaker_and_deliveries_wait_for_it(
    client: httpx.AsyncClient,
    container: ApplicationContainer,
    clock: FixedClock,
    standin: ResendStandin,
) -> None:
    standin.fail_next(503, times=2)
    await sign_up(client, "ada")
    await sign_up(client, "bob")
    await run_jobs(container)
    email = container.safety.breakers().breaker("email")
    assert email.state is BreakerState.OPEN
    requests = len(standin.requests)

    await sign_up(client, "cyd")
    await run_jobs(container)

    assert len(standin.requests) == requests  # refused at once: Resend was not called
    assert await statuses(container) == [DeliveryStatus.QUEUED] * 3
    assert email.counters["not_permitted"] >= 1
    with pytest.raises(EmailCircuitOpenError):
        await container.notifications.email_transport().deliver(an_email())

    for _ in range(6):  # the jobs retry; a probe succeeds and the breaker closes
        clock.advance(timedelta(minutes=10))
        await run_jobs(container)
    assert email.state is BreakerState.CLOSED
    assert await statuses(container) == [DeliveryStatus.SENT] * 3
    assert len(standin.emails) == 3


# -- every process -----------------------------------------------------------------------------


async def within_2s(condition: Callable[[], bool]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 2
    for _ in range(200):
        if condition():
            return
        if loop.time() > deadline:
            break
        await asyncio.sleep(0.02)
    raise AssertionError("not within 2 s")


async def test_a_breaker_forced_open_by_staff_is_obeyed_by_another_process_within_2s(
    client: httpx.AsyncClient, container: ApplicationContainer, settings: Settings
) -> None:
    other = build_container(settings)
    other.safety.breaker_specs.override(providers.Object(SPECS))
    runtime = SafetyRuntime(other, interval=0.1)
    await runtime.start()
    try:
        provider = other.billing.payment_provider()
        with pytest.raises(PaymentProviderRejectedError):  # it went through: answered
            await provider.list_invoices("cus_1")
        ops = await staff_member(client, container, "ops", StaffRole.OPS)

        forced = await client.post(
            "/api/v1/admin/breakers/payments/force-open",
            json={"reason": "the provider's status page shows an incident"},
            headers=ops.headers,
        )
        assert forced.status_code == 200, forced.text

        await within_2s(lambda: payments(other) is BreakerState.FORCED_OPEN)
        with pytest.raises(PaymentsCircuitOpenError):
            await provider.list_invoices("cus_1")

        reset = await client.post(
            "/api/v1/admin/breakers/payments/reset",
            json={"reason": "incident over"},
            headers=ops.headers,
        )
        assert reset.status_code == 200, reset.text
        await within_2s(lambda: payments(other) is BreakerState.CLOSED)
        with pytest.raises(PaymentProviderRejectedError):
            await provider.list_invoices("cus_1")
    finally:
        await runtime.stop()
        await close_container(other)
