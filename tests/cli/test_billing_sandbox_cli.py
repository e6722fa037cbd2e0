"""``ninefold billing sandbox``: the sandbox payment processor's back office from the
command line, on SQLite and (with ``NINEFOLD_TEST_POSTGRES_URL``) PostgreSQL. Checkouts
are made by the sandbox provider of a container of the test's own on the CLI's
database."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from tests.cli.harness import Ninefold

from adapters.sandbox import SandboxPaymentProvider
from contracts.ports.payment_provider import CREDITS, PRO_MONTH, SPECS
from core.billing.payments import CheckoutMode, CheckoutRequest
from entrypoints.containers import ApplicationContainer, build_container, close_container
from entrypoints.settings import ensure_secret_key, load_settings

T = TypeVar("T")
WS = "ws_cli"


def with_sandbox(work: Callable[[SandboxPaymentProvider], Awaitable[T]]) -> T:
    async def run() -> T:
        container: ApplicationContainer = build_container(ensure_secret_key(load_settings()))
        try:
            provider = container.billing.payment_provider()
            assert isinstance(provider, SandboxPaymentProvider)
            return await work(provider)
        finally:
            await close_container(container)

    return asyncio.run(run())


def checkout(key: str = PRO_MONTH, ikey: str = "c1") -> str:
    async def work(sandbox: SandboxPaymentProvider) -> str:
        prices = {p.key: p for p in await sandbox.sync_prices(SPECS, {})}
        customer = await sandbox.create_customer(
            WS, name="CLI Co", email="cli@example.com", idempotency_key=WS
        )
        session = await sandbox.create_checkout(
            CheckoutRequest(
                workspace_id=WS,
                customer_id=customer,
                mode=CheckoutMode.PAYMENT if key == CREDITS else CheckoutMode.SUBSCRIPTION,
                price=prices[key],
                quantity=2,
                success_url="http://127.0.0.1:8000/ok",
                cancel_url="http://127.0.0.1:8000/no",
                idempotency_key=ikey,
            )
        )
        return session.id

    return with_sandbox(work)


def test_pay_then_show_the_workspace(ninefold: Ninefold) -> None:
    session = checkout()

    paid = ninefold("billing", "sandbox", "pay", session)
    shown = ninefold("billing", "sandbox", "show", WS)
    as_json = ninefold("billing", "sandbox", "show", WS, "--json")

    assert paid.code == 0, paid.err
    assert paid.out.strip() == f"paid {session}; the customer goes to http://127.0.0.1:8000/ok"
    assert shown.code == 0, shown.err
    assert "card       works" in shown.out
    assert " active  Pro x 2  30.00 USD/month" in shown.out
    assert "SBX-000001" in shown.out
    document = json.loads(as_json.out)
    assert document["workspace_id"] == WS
    assert document["subscriptions"][0]["status"] == "active"


def test_fail_recover_and_renew_a_workspace_subscription(ninefold: Ninefold) -> None:
    ninefold("billing", "sandbox", "pay", checkout())

    failed = ninefold("billing", "sandbox", "fail", WS)
    recovered = ninefold("billing", "sandbox", "recover", WS)
    renewed = ninefold("billing", "sandbox", "renew", WS)
    tick = ninefold("billing", "sandbox", "tick")
    shown = ninefold("billing", "sandbox", "show", WS)

    assert failed.code == 0, failed.err
    assert ": past_due, period " in failed.out
    assert "past due since" in failed.out
    assert recovered.code == 0, recovered.err
    assert ": active, period " in recovered.out
    assert renewed.code == 0, renewed.err
    assert ": active, period " in renewed.out
    assert tick.out.strip() == "tick: nothing due"
    assert "SBX-000003" in shown.out  # the first, the failed-then-paid, the renewal
    assert " open " not in shown.out


def test_card_declines_then_the_renewal_fails(ninefold: Ninefold) -> None:
    ninefold("billing", "sandbox", "pay", checkout())

    card = ninefold("billing", "sandbox", "card", WS, "declines")
    renewed = ninefold("billing", "sandbox", "renew", WS)
    shown = ninefold("billing", "sandbox", "show", WS)

    assert card.code == 0, card.err
    assert card.out.strip() == f"the card of {WS} declines"
    assert ": past_due, period " in renewed.out
    assert "card       declines" in shown.out
    assert "next retry" in shown.out


def test_decline_a_checkout(ninefold: Ninefold) -> None:
    session = checkout(CREDITS)

    declined = ninefold("billing", "sandbox", "decline", session)
    again = ninefold("billing", "sandbox", "pay", session)

    assert declined.code == 0, declined.err
    assert declined.out.strip().endswith("goes to http://127.0.0.1:8000/no")
    assert again.code == 1
    assert again.err.strip() == (
        "ninefold billing sandbox pay: sandbox: the checkout session is declined"
    )


def test_unknown_ids_exit_1_in_one_line(ninefold: Ninefold) -> None:
    pay = ninefold("billing", "sandbox", "pay", "cs_nope")
    fail = ninefold("billing", "sandbox", "fail", "ws_nobody")
    show = ninefold("billing", "sandbox", "show", "ws_nobody")

    assert (pay.code, fail.code, show.code) == (1, 1, 1)
    assert (
        pay.err.strip()
        == "ninefold billing sandbox pay: sandbox: no such checkout session: cs_nope"
    )
    assert len(fail.err.strip().splitlines()) == 1
    assert show.err.strip() == "ninefold billing sandbox show: no customer for ws_nobody"


def test_the_commands_refuse_another_provider(
    ninefold: Ninefold, cli_env: pytest.MonkeyPatch
) -> None:
    cli_env.setenv("NINEFOLD_PAYMENTS_PROVIDER", "stripe")
    cli_env.setenv("NINEFOLD_STRIPE_SECRET_KEY", "sk_test_cli")
    cli_env.setenv("NINEFOLD_STRIPE_WEBHOOK_SECRET", "whsec_Y2xp")

    tick = ninefold("billing", "sandbox", "tick")

    assert tick.code == 1
    assert tick.err.strip() == (
        "ninefold billing sandbox tick: the payment provider is stripe, not the sandbox "
        "(set NINEFOLD_PAYMENTS_PROVIDER=sandbox to use these commands)"
    )


def test_usage_errors_exit_2(ninefold: Ninefold) -> None:
    assert ninefold("billing", "sandbox", "card", WS, "maybe").code == 2
    assert ninefold("billing").code == 2
