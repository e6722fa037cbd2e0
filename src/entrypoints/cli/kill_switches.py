"""``ninefold kill-switch list|show|engage|release``: the operator's kill switches.

``engage NAME --reason …`` turns a capability off (routes answer 503 with Retry-After and
the runbook; a jobs switch pauses its queues); ``release NAME --reason …`` turns it back
on. The change is in force in every app and worker process within the snapshot poll
interval (half a second). Engaging an engaged switch, or releasing a released one,
exits 1 and changes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
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
    from entrypoints.containers import ApplicationContainer


async def _list(args: argparse.Namespace, container: ApplicationContainer) -> int:
    from core.safety import KILL_SWITCHES, KillSwitchBoard
    from core.safety.kill_switches import RUNBOOK_BASE

    async with container.unit_of_work() as uow:
        states = await container.safety.kill_switches(uow=uow).store.states()
    board = KillSwitchBoard(KILL_SWITCHES, states)
    if args.json:
        print_json(
            [
                {
                    "name": switch.name,
                    "kind": switch.kind.value,
                    "engaged": state.engaged,
                    "reason": state.reason,
                    "changed_by": state.changed_by,
                    "changed_at": state.changed_at.isoformat() if state.changed_at else None,
                    "runbook": RUNBOOK_BASE + switch.runbook,
                }
                for switch, state in board.all()
            ]
        )
        return EXIT_OK
    rows = [
        [
            switch.name,
            "ENGAGED" if state.engaged else "off",
            switch.kind.value,
            when(state.changed_at),
            state.reason[:50],
        ]
        for switch, state in board.all()
    ]
    print(table([["NAME", "STATE", "KIND", "CHANGED", "REASON"], *rows]))
    return EXIT_OK


async def _change(args: argparse.Namespace, container: ApplicationContainer) -> int:
    from entrypoints.http.safety.kill_switches import change

    engaged = args.kill_command == "engage"
    state = await change(container, args.name, engaged=engaged, reason=args.reason, actor=None)
    verb = "engaged" if state.engaged else "released"
    print(f"{state.name} {verb}: {state.reason}")
    return EXIT_OK


def cmd_kill_switch(args: argparse.Namespace) -> int:
    from core.kernel import DomainError

    settings = settings_for_command()
    configure_logging(settings)
    work = _list if args.kill_command == "list" else _change
    try:
        return asyncio.run(with_container(settings, partial(work, args)))
    except DomainError as exc:
        print(f"ninefold kill-switch {args.kill_command}: {exc.detail}", file=sys.stderr)
        return EXIT_FAILURE


def add_kill_switch_parser(sub: Any) -> None:
    kill = sub.add_parser(
        "kill-switch",
        help="turn a risky capability off at once, or back on: list, engage, release",
        description="Kill switches: named switches that turn one capability off in every "
        "process within a second (signups, checkout, outbound-email, webhook-delivery, "
        "media-uploads). Each change needs a reason and is kept in the switch's history.",
    )
    actions = kill.add_subparsers(dest="kill_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="every switch and its state")
    listing.add_argument("--json", action="store_true", help="print JSON")
    for action, text in (("engage", "turn it off"), ("release", "turn it back on")):
        command = actions.add_parser(action, help=f"{text}, with a reason")
        command.add_argument("name", metavar="NAME", help="the switch, e.g. checkout")
        command.add_argument("--reason", required=True, help="why (kept with the change)")
    kill.set_defaults(handler=cmd_kill_switch)
