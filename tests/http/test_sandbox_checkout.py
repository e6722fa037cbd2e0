"""The sandbox's hosted pages: the checkout (pay or decline, then 303 to the
checkout's URLs), the portal (the card toggle) and the invoices; HTML, no sign-in,
names escaped; absent when another payment provider is selected."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from adapters.sandbox import SandboxPaymentProvider
from core.billing import BillingInterval, SubscriptionStatus
from core.billing.payments import CheckoutMode, CheckoutRequest, CheckoutSession, PriceSpec
from entrypoints.containers import ApplicationContainer, build_container, close_container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from entrypoints.testing.plugin import serve_in_process, settings_with

NASTY = '<script>alert("x")</script> & Co'
OK = "https://testserver.local/billing/done?checkout=1"
NO = "https://testserver.local/billing/canceled"


def sandbox(container: ApplicationContainer) -> SandboxPaymentProvider:
    provider = container.billing.payment_provider()
    assert isinstance(provider, SandboxPaymentProvider)
    return provider


async def checkout(container: ApplicationContainer, *, key: str = "k1") -> CheckoutSession:
    provider = sandbox(container)
    (price,) = await provider.sync_prices(
        [
            PriceSpec(
                key="plan:pro:month:USD",
                name=NASTY,
                amount=1_500,
                currency="USD",
                interval=BillingInterval.MONTH,
                per_seat=True,
                fingerprint="1",
            )
        ],
        {},
    )
    customer = await provider.create_customer(
        "ws_page", name=NASTY, email="a@example.com", idempotency_key="ws_page"
    )
    return await provider.create_checkout(
        CheckoutRequest(
            workspace_id="ws_page",
            customer_id=customer,
            mode=CheckoutMode.SUBSCRIPTION,
            price=price,
            quantity=3,
            success_url=OK,
            cancel_url=NO,
            idempotency_key=key,
        )
    )


def path(url: str) -> str:
    return httpx.URL(url).path


async def test_the_checkout_page_shows_what_is_bought_with_names_escaped(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    session = await checkout(container)
    assert session.url.endswith(f"/billing/sandbox/checkout/{session.id}")
    page = await client.get(path(session.url))
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert NASTY not in page.text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co" in page.text
    assert "45.00 USD" in page.text
    assert f'action="/billing/sandbox/checkout/{session.id}/pay"' in page.text
    assert f'action="/billing/sandbox/checkout/{session.id}/decline"' in page.text


async def test_paying_redirects_to_the_success_url_and_subscribes(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    session = await checkout(container)
    paid = await client.post(path(session.url) + "/pay")  # a browser form: no session
    assert paid.status_code == 303
    assert paid.headers["location"] == OK
    view = await sandbox(container).customer_view("ws_page")
    assert view is not None
    assert view.subscriptions[0].status is SubscriptionStatus.ACTIVE
    again = await client.get(path(session.url))
    assert "This checkout is <strong>paid</strong>" in again.text
    assert "/pay" not in again.text

    portal = await client.get(f"/billing/sandbox/portal/{view.id}")
    assert portal.status_code == 200
    assert "SBX-000001" in portal.text
    assert NASTY not in portal.text
    invoice = await client.get(f"/billing/sandbox/invoices/{view.invoices[0].id}")
    assert invoice.status_code == 200
    assert "SBX-000001" in invoice.text
    assert "45.00 USD" in invoice.text


async def test_declining_redirects_to_the_cancel_url(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    session = await checkout(container)
    declined = await client.post(path(session.url) + "/decline")
    assert declined.status_code == 303
    assert declined.headers["location"] == NO
    view = await sandbox(container).customer_view("ws_page")
    assert view is not None
    assert view.subscriptions == []
    refused = await client.post(path(session.url) + "/pay")
    assert refused.status_code == 409
    assert "This checkout is <strong>declined</strong>" in refused.text


async def test_the_portal_toggles_the_card(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    await checkout(container)
    view = await sandbox(container).customer_view("ws_page")
    assert view is not None
    assert view.card_works
    toggled = await client.post(f"/billing/sandbox/portal/{view.id}/card/declines")
    assert toggled.status_code == 303
    assert toggled.headers["location"] == f"/billing/sandbox/portal/{view.id}"
    page = await client.get(f"/billing/sandbox/portal/{view.id}")
    assert "<strong>declines</strong>" in page.text
    assert f'action="/billing/sandbox/portal/{view.id}/card/works"' in page.text


@pytest.mark.parametrize(
    "url",
    [
        "/billing/sandbox/checkout/cs_does_not_exist",
        "/billing/sandbox/portal/cus_does_not_exist",
        "/billing/sandbox/portal/ws_page",  # a workspace id is no capability
        "/billing/sandbox/invoices/in_does_not_exist",
    ],
)
async def test_unknown_ids_are_404(
    client: httpx.AsyncClient, container: ApplicationContainer, url: str
) -> None:
    await checkout(container)
    assert (await client.get(url)).status_code == 404
    assert (await client.post("/billing/sandbox/checkout/cs_nope/pay")).status_code == 404


@pytest.fixture
async def stripe_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    chosen = settings_with(
        settings,
        payments_provider="stripe",
        stripe_secret_key="sk_test_sandbox_pages",
        stripe_webhook_secret="whsec_c2FuZGJveC1wYWdlcw==",
    )
    container = build_container(chosen)
    try:
        async with serve_in_process(create_app(container, run_worker=False)) as client:
            yield client
    finally:
        await close_container(container)


async def test_the_pages_are_not_there_when_another_provider_is_selected(
    stripe_client: httpx.AsyncClient,
) -> None:
    assert (await stripe_client.get("/billing/sandbox/checkout/cs_x")).status_code == 404
    assert (await stripe_client.post("/billing/sandbox/checkout/cs_x/pay")).status_code == 404
