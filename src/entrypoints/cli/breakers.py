"""``ninefold breakers list|show|force-open|force-closed|reset``: the circuit breakers
in front of each provider.

``list`` and ``show NAME`` print the breakers as a process started by the command sees
them (runtime state is per process: a fresh one is closed with an empty window, so the
staff route ``GET /api/v1/admin/breakers`` shows a serving process's view) and staff's
overrides as stored. ``force-open NAME --reason …`` refuses every call to the provider
in every app and worker process within the snapshot poll interval; ``force-closed``
lets every call go and the breaker never trips; ``reset`` drops the override and starts
each process's breaker closed with an empty window. Forcing a breaker the way it is
forced already exits 1 and changes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from functools import partial
from typing import TYPE_CHECKING, Any

import msgspec

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
    from entrypoints.containers import ApplicationContainer

ACTIONS = {"force-open": "forced_open", "force-closed": "forced_closed", "reset": "none"}


async def _list(args: argparse.Namespace, container: ApplicationContainer) -> int:
    from entrypoints.http.safety.breakers import describe

    await container.safety.snapshots().refresh(force=True)
    async with container.unit_of_work() as uow:
        shown = await describe(container, uow)
    if args.json:
        print_json(msgspec.to_builtins(shown))
        return EXIT_OK
    rows = [
        [
            b.name,
            b.state,
            b.override.kind if b.override else "-",
            when(b.override.changed_at) if b.override else "",
            (b.override.reason if b.override else "")[:40],
            b.runbook,
        ]
        for b in shown
    ]
    print(table([["NAME", "STATE", "OVERRIDE", "CHANGED", "REASON", "RUNBOOK"], *rows]))
    return EXIT_OK


async def _show(args: argparse.Namespace, container: ApplicationContainer) -> int:
    from entrypoints.http.safety.breakers import describe_one

    await container.safety.snapshots().refresh(force=True)
    async with container.unit_of_work() as uow:
        shown = await describe_one(container, uow, args.name)
    if args.json:
        print_json(msgspec.to_builtins(shown))
        return EXIT_OK
    config = msgspec.to_builtins(shown.config)
    print(f"{shown.name}: {shown.description}")
    print(f"  state (this process): {shown.state}")
    override = shown.override
    print(
        f"  override: {override.kind} by {override.changed_by or 'the CLI'} "
        f"{when(override.changed_at)}: {override.reason}"
        if override
        else "  override: none"
    )
    print("  config: " + ", ".join(f"{k}={v}" for k, v in config.items()))
    print(f"  failures: {shown.failures}")
    print(f"  runbook: {shown.runbook}")
    if shown.history:
        print("  history:")
        for change in shown.history:
            by = change.changed_by or "the CLI"
            print(f"    {when(change.changed_at)}  {change.kind:<13} {by}: {change.reason}")
    return EXIT_OK


async def _change(args: argparse.Namespace, container: ApplicationContainer) -> int:
    from core.safety.breaker_registry import OverrideKind
    from entrypoints.http.safety.breakers import change

    kind = OverrideKind(ACTIONS[args.breakers_command])
    override = await change(container, args.name, kind, reason=args.reason, actor=None)
    done = {"forced_open": "forced open", "forced_closed": "forced closed", "none": "reset"}
    print(f"{override.name} {done[override.kind.value]}: {override.reason}")
    return EXIT_OK


def cmd_breakers(args: argparse.Namespace) -> int:
    from core.kernel import DomainError

    settings = settings_for_command()
    configure_logging(settings)
    work = {"list": _list, "show": _show}.get(args.breakers_command, _change)
    try:
        return asyncio.run(with_container(settings, partial(work, args)))
    except DomainError as exc:
        print(f"ninefold breakers {args.breakers_command}: {exc.detail}", file=sys.stderr)
        return EXIT_FAILURE


def add_breakers_parser(sub: Any) -> None:
    breakers = sub.add_parser(
        "breakers",
        help="circuit breakers in front of the providers: list, show, force-open, "
        "force-closed, reset",
        description="Circuit breakers: each provider's calls (payments, email, media, "
        "analytics, error-tracking) stop for a while when it keeps failing. Staff force "
        "one open or closed, or reset it, with a reason; every process obeys within a "
        "second.",
    )
    actions = breakers.add_subparsers(dest="breakers_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="every breaker, its state and override")
    listing.add_argument("--json", action="store_true", help="print JSON")
    show = actions.add_parser("show", help="one breaker: configuration and history")
    show.add_argument("name", metavar="NAME", help="the breaker, e.g. payments")
    show.add_argument("--json", action="store_true", help="print JSON")
    for action, text in (
        ("force-open", "refuse every call to the provider"),
        ("force-closed", "let every call go; never trip"),
        ("reset", "drop the override; start closed with an empty window"),
    ):
        command = actions.add_parser(action, help=f"{text}, with a reason")
        command.add_argument("name", metavar="NAME", help="the breaker, e.g. payments")
        command.add_argument("--reason", required=True, help="why (kept with the change)")
    breakers.set_defaults(handler=cmd_breakers)
