"""``ninefold audit verify`` and ``ninefold audit export``: the operator's side of the
audit log (docs/systems/safety/audit.md).

- ``verify``: recompute the whole hash chain; exit 1 naming the first broken entry.
- ``export``: the entries as JSON Lines on standard output, oldest first, filtered by
  time (``--from``, ``--to``), workspace, action (``member.*`` for a prefix), actor and
  target: ``ninefold audit export --from 2026-12-01T00:00:00Z > audit.jsonl``.

Every command but ``serve`` and ``worker`` runs with the request context of the operator
(``act_as_operator``): what it records names ``cli:<login>@<host>`` as its system actor.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import socket
import sys
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from entrypoints.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    print_json,
    settings_for_command,
    with_container,
)
from entrypoints.logging import configure_logging

if TYPE_CHECKING:
    from entrypoints.containers import ApplicationContainer


# The processes that serve others: their requests and jobs carry their own actors.
SERVING = frozenset({"serve", "worker"})


def act_as_operator(command: str) -> Callable[[], None]:
    """Make the CLI's operator the actor of what ``command`` records (not of what
    ``serve`` and ``worker`` do: their jobs act as the system); call what it answers
    to restore the context before."""
    from core.safety import ActorType, RequestContext, current_context, set_context

    if command in SERVING:
        return lambda: None

    try:
        login = getpass.getuser()
    except Exception:  # no login name in some containers
        login = "unknown"
    operator = f"cli:{login}@{socket.gethostname()}"[:64]
    previous = current_context()
    set_context(RequestContext(actor_type=ActorType.SYSTEM, actor_id=operator))
    return partial(set_context, previous)


async def _verify(args: argparse.Namespace, container: ApplicationContainer) -> int:
    async with container.unit_of_work() as uow:
        outcome = await container.safety.audit(uow=uow).verify()
    if args.json:
        print_json(outcome)
    broken = outcome.broken
    if broken is None:
        if not args.json:
            print(f"audit log intact: {outcome.entries} entries, head seq {outcome.head_seq}")
        return EXIT_OK
    named = f"entry seq {broken.seq}" + (f" ({broken.entry_id})" if broken.entry_id else "")
    print(f"audit log broken at {named}: {broken.problem}", file=sys.stderr)
    return EXIT_FAILURE


async def _export(args: argparse.Namespace, container: ApplicationContainer) -> int:
    import msgspec

    from adapters.sql.safety.audit import SqlAuditStore
    from core.safety import AuditFilter
    from core.safety.audit import entry_json

    where = AuditFilter(
        actor_id=args.actor,
        action=args.action,
        target_type=args.target_type,
        target_id=args.target,
        workspace_id=args.workspace,
        since=args.since,
        until=args.until,
    )
    encoder = msgspec.json.Encoder()
    count = 0
    async with container.database.read_session_factory()() as session:
        async for entry in SqlAuditStore(session, container.kernel.ids()).scan(where):
            sys.stdout.write(encoder.encode(entry_json(entry)).decode() + "\n")
            count += 1
    sys.stdout.flush()
    print(f"{count} entries exported", file=sys.stderr)
    return EXIT_OK


def _run(name: str, work: Any, args: argparse.Namespace) -> int:
    from core.kernel import DomainError

    settings = settings_for_command()
    configure_logging(settings)
    try:
        code: int = asyncio.run(with_container(settings, partial(work, args)))
    except DomainError as exc:
        print(f"ninefold audit {name}: {exc.detail}", file=sys.stderr)
        return EXIT_FAILURE
    return code


def _aware(value: str) -> datetime:
    try:
        at = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO 8601 time") from exc
    if at.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give {value!r} a time zone (…Z or …+00:00)")
    return at


def cmd_audit(args: argparse.Namespace) -> int:
    if args.audit_command == "verify":
        return _run("verify", _verify, args)
    if args.audit_command == "export":
        return _run("export", _export, args)
    return EXIT_USAGE


def add_audit_parser(sub: Any) -> None:
    audit = sub.add_parser(
        "audit",
        help="the audit log: verify its hash chain, export it",
        description="The tamper-evident audit log (docs/systems/safety/audit.md).",
    )
    actions = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = actions.add_parser(
        "verify",
        help="recompute the hash chain; exit 1 naming the first broken entry",
    )
    verify.add_argument("--json", action="store_true", help="print the outcome as JSON")
    export = actions.add_parser(
        "export",
        help="entries as JSON Lines on standard output, oldest first",
        description="Entries as JSON Lines on standard output, oldest first. Filters "
        "combine; times are ISO 8601 with a time zone.",
    )
    export.add_argument("--from", dest="since", type=_aware, help="entries at or after")
    export.add_argument("--to", dest="until", type=_aware, help="entries before")
    export.add_argument("--workspace", help="one workspace's entries (ws_…)")
    export.add_argument("--action", help="one action, or a prefix ending in .* (member.*)")
    export.add_argument("--actor", help="one actor's entries (usr_…, key_…)")
    export.add_argument("--target-type", help="the target's type (user, api_key, …)")
    export.add_argument("--target", help="the target's id")
    audit.set_defaults(handler=cmd_audit)
