"""``ninefold billing``: billing from the command line.

``ninefold billing sandbox …`` drives the sandbox payment processor (the embedded
default, ``NINEFOLD_PAYMENTS_PROVIDER=sandbox``; docs/providers/sandbox.md) as its back
office, on the app's database:

- ``tick``: do what is due now (renewals, retries, scheduled ends, trial ends, checkout
  expiry; the worker does it every minute);
- ``pay SESSION`` / ``decline SESSION``: complete a checkout as its customer would;
- ``fail TARGET``: the card declines and the subscription is charged now (past due);
- ``recover TARGET``: the card works and what the subscription owes is paid now;
- ``renew TARGET``: the period ends now and the next one is charged;
- ``card TARGET works|declines``: set the customer's card;
- ``show TARGET``: the customer, card, subscriptions, invoices and usage.

``TARGET`` is a workspace id (``ws_…``: its live subscription, or its customer), a
subscription id (``sub_…``) or, for ``card`` and ``show``, a customer id (``cus_…``).
The sandbox's webhooks go through billing's ingestion before the command ends (stored,
and queued for the worker that applies them); one that could not be taken waits in the
sandbox's table for the next tick. Errors exit 1 with one line; the
commands refuse with exit 1 when another payment provider is selected.

To add a command group: write ``_add_<group>_parser(billing_sub)`` and call it from
``add_billing_parser``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from entrypoints.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    print_json,
    settings_for_command,
    table,
    when,
    with_container,
)
from entrypoints.logging import configure_logging

if TYPE_CHECKING:
    from adapters.sandbox import CustomerView, SandboxPaymentProvider
    from core.billing.payments import SubscriptionState
    from entrypoints.containers import ApplicationContainer

SandboxCommand = Callable[[argparse.Namespace, "SandboxPaymentProvider"], Awaitable[int]]


def _money(amount: int, currency: str) -> str:
    from entrypoints.http.billing.sandbox import money

    return money(amount, currency)


def _print_state(state: SubscriptionState) -> None:
    print(
        f"{state.provider_subscription_id}: {state.status.value}, period "
        f"{when(state.current_period_start)} to {when(state.current_period_end)}"
        + (f", past due since {when(state.past_due_since)}" if state.past_due_since else "")
        + (", ends at the period's end" if state.cancel_at_period_end else "")
    )


# --- billing sandbox ------------------------------------------------------------------------


async def _tick(args: argparse.Namespace, sandbox: SandboxPaymentProvider) -> int:
    report = await sandbox.tick()
    print(f"tick: {report.summary()}")
    return EXIT_OK


async def _pay(args: argparse.Namespace, sandbox: SandboxPaymentProvider) -> int:
    target = await sandbox.pay(args.session)
    print(f"paid {args.session}; the customer goes to {target}")
    return EXIT_OK


async def _decline(args: argparse.Namespace, sandbox: SandboxPaymentProvider) -> int:
    target = await sandbox.decline(args.session)
    print(f"declined {args.session}; the customer goes to {target}")
    return EXIT_OK


async def _fail(args: argparse.Namespace, sandbox: SandboxPaymentProvider) -> int:
    _print_state(await sandbox.fail_payment(args.target))
    return EXIT_OK


async def _recover(args: argparse.Namespace, sandbox: SandboxPaymentProvider) -> int:
    _print_state(await sandbox.recover_payment(args.target))
    return EXIT_OK


async def _renew(args: argparse.Namespace, sandbox: SandboxPaymentProvider) -> int:
    _print_state(await sandbox.renew(args.target))
    return EXIT_OK


async def _card(args: argparse.Namespace, sandbox: SandboxPaymentProvider) -> int:
    await sandbox.set_card(args.target, works=args.state == "works")
    print(f"the card of {args.target} {args.state}")
    return EXIT_OK


def _describe(view: CustomerView) -> str:
    lines = [
        f"customer   {view.id}",
        f"workspace  {view.workspace_id}",
        f"name       {view.name}",
        f"email      {view.email or '-'}",
        f"card       {'works' if view.card_works else 'declines'}",
        f"portal     {view.portal_url}",
        "subscriptions" if view.subscriptions else "subscriptions  (none)",
    ]
    for sub in view.subscriptions:
        notes = [
            note
            for note in (
                "ends at the period's end" if sub.cancel_at_period_end else "",
                f"past due since {when(sub.past_due_since)}" if sub.past_due_since else "",
                f"next retry {when(sub.next_retry_at)}" if sub.next_retry_at else "",
            )
            if note
        ]
        lines += [
            f"  {sub.id}  {sub.status.value}  {sub.product_name} x {sub.quantity}  "
            f"{_money(sub.amount, sub.currency)}/{sub.interval or '-'}",
            f"    period {when(sub.current_period_start)} to {when(sub.current_period_end)}"
            + (f" ({'; '.join(notes)})" if notes else ""),
        ]
    if view.invoices:
        rows = [("INVOICE", "ISSUED", "STATUS", "TOTAL", "DUE", "ID")]
        rows += [
            (
                invoice.number,
                when(invoice.issued_at),
                invoice.status.value,
                _money(invoice.total, invoice.currency),
                _money(invoice.amount_due, invoice.currency),
                invoice.id,
            )
            for invoice in view.invoices
        ]
        lines += ["invoices", *(f"  {row}" for row in table(rows).splitlines())]
    else:
        lines.append("invoices  (none)")
    lines += ["usage" if view.usage else "usage  (none)"]
    lines += [f"  {meter}  {total}" for meter, total in sorted(view.usage.items())]
    return "\n".join(lines)


async def _show(args: argparse.Namespace, sandbox: SandboxPaymentProvider) -> int:
    view = await sandbox.customer_view(args.target)
    if view is None:
        print(f"ninefold billing sandbox show: no customer for {args.target}", file=sys.stderr)
        return EXIT_FAILURE
    if args.json:
        print_json(view)
    else:
        print(_describe(view))
    return EXIT_OK


SANDBOX_COMMANDS: dict[str, SandboxCommand] = {
    "tick": _tick,
    "pay": _pay,
    "decline": _decline,
    "fail": _fail,
    "recover": _recover,
    "renew": _renew,
    "card": _card,
    "show": _show,
}


async def _with_sandbox(args: argparse.Namespace, container: ApplicationContainer) -> int:
    from adapters.sandbox import SandboxPaymentProvider
    from entrypoints.billing.ingest import connect_sandbox

    provider = container.billing.payment_provider()
    if not isinstance(provider, SandboxPaymentProvider):  # settings checked first
        raise TypeError("the sandbox is not the payment provider")
    connect_sandbox(container)
    code = await SANDBOX_COMMANDS[args.sandbox_command](args, provider)
    delivered = await provider.settle()
    if delivered:
        print(f"{delivered} webhook(s) delivered to billing; the worker applies them")
    return code


def cmd_billing_sandbox(args: argparse.Namespace) -> int:
    """The sandbox's back office. Domain errors (an unknown id, a refused change) exit
    1, in one line."""
    from core.kernel import DomainError

    settings = settings_for_command()
    configure_logging(settings)
    name = f"ninefold billing sandbox {args.sandbox_command}"
    if settings.payments_provider != "sandbox":
        print(
            f"{name}: the payment provider is {settings.payments_provider}, not the sandbox "
            "(set NINEFOLD_PAYMENTS_PROVIDER=sandbox to use these commands)",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    try:
        return asyncio.run(with_container(settings, partial(_with_sandbox, args)))
    except DomainError as exc:
        print(f"{name}: {exc.detail}", file=sys.stderr)
        return EXIT_FAILURE


def _add_sandbox_parser(billing_sub: Any) -> None:
    sandbox = billing_sub.add_parser(
        "sandbox",
        help="drive the sandbox payment processor: tick, pay, fail, recover, renew, ...",
        description="The sandbox payment processor's back office (development and tests "
        "only). TARGET is a workspace id (its live subscription), a subscription id or, "
        "for card and show, a customer id.",
    )
    commands = sandbox.add_subparsers(dest="sandbox_command", required=True, metavar="ACTION")
    commands.add_parser(
        "tick",
        help="do what is due now: renewals, retries, ends, trial ends, checkout expiry",
        description="Process everything due at the current time, as the worker does every minute.",
    )
    for action, verb in (("pay", "pay with a card that works"), ("decline", "decline")):
        command = commands.add_parser(action, help=f"{verb} a checkout session")
        command.add_argument("session", metavar="SESSION", help="the checkout session id (cs_...)")
    for action, text in (
        ("fail", "the card declines and the subscription is charged now: past due"),
        ("recover", "the card works and what the subscription owes is paid now"),
        ("renew", "the period ends now and the next one is charged"),
    ):
        command = commands.add_parser(action, help=text, description=text[0].upper() + text[1:])
        command.add_argument("target", metavar="TARGET", help="a workspace or subscription id")
    card = commands.add_parser("card", help="make a customer's card work or decline")
    card.add_argument("target", metavar="TARGET", help="a workspace, customer or subscription id")
    card.add_argument("state", choices=["works", "declines"])
    show = commands.add_parser(
        "show",
        help="a customer: card, subscriptions, invoices, usage",
        description="Print the sandbox customer of a workspace (or by customer or "
        "subscription id): its card, subscriptions, invoices and reported usage.",
    )
    show.add_argument("target", metavar="TARGET", help="a workspace, customer or subscription id")
    show.add_argument("--json", action="store_true", help="print JSON")
    sandbox.set_defaults(handler=cmd_billing_sandbox)


def add_billing_parser(sub: Any) -> None:
    """``ninefold billing …``; each group adds its parser to ``billing_sub``."""
    from entrypoints.cli.billing_ops import add_events_parser, add_sync_parser

    billing = sub.add_parser(
        "billing",
        help="billing: sync prices to the provider, webhook events, the sandbox",
        description="Billing from the command line.",
    )
    billing_sub = billing.add_subparsers(dest="billing_command", required=True, metavar="GROUP")
    add_sync_parser(billing_sub)
    add_events_parser(billing_sub)
    _add_sandbox_parser(billing_sub)
