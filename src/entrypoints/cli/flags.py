"""``ninefold flags …``: the operator's feature flags (docs/runbooks/flags.md).

- ``list [--stale] [--archived]``: every flag, on or off in each environment, stale or not.
- ``show KEY``: the definition, pending scheduled changes and the latest changes.
- ``create KEY --reason …``: a boolean flag (off everywhere); ``--kind``, ``--client-visible``.
- ``set KEY --file change.json --reason …``: apply a change (the HTTP PATCH body's fields).
- ``enable|disable KEY --reason …``: on or off in an environment (``--env``, default the
  app's; a boolean flag without rules gets a rule for everyone, as Unleash adds its
  default strategy); ``rollout KEY PERCENT --reason …``: the first rule's percentage. With
  ``--at TIME`` these three schedule the change instead (applied by the every-minute job).
- ``archive|restore KEY --reason …``; ``stale``: flags past their kind's lifetime.
- ``evaluate KEY [--user U] [--workspace W] [--plan P] [--attr k=v …]``: what this
  context gets, and why.

Every change needs ``--reason``, is recorded with who (``--by``, default ``cli:$USER``),
its before and after, and reaches every app and worker process within the poll interval.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from entrypoints.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    one_line,
    print_json,
    settings_for_command,
    table,
    when,
    with_container,
)
from entrypoints.logging import configure_logging

if TYPE_CHECKING:
    from core.safety.flag_service import FlagService
    from core.safety.flags import Flag
    from entrypoints.containers import ApplicationContainer


def _actor(args: argparse.Namespace) -> str:
    return str(args.by or f"cli:{getpass.getuser()}")[:40]


def _env(args: argparse.Namespace, container: ApplicationContainer) -> str:
    return str(getattr(args, "env", None) or container.settings().env)


def _states(flag: Flag) -> str:
    shown = []
    for env, short in (("development", "dev"), ("test", "test"), ("production", "prod")):
        config = flag.environment(env)
        rollout = config.rules[0].rollout if config.rules else None
        state = "on" if config.enabled else "off"
        if config.enabled and rollout is not None and rollout < 100:
            state += f" {rollout}%"
        shown.append(f"{short}:{state}")
    return " ".join(shown)


async def _list(args: argparse.Namespace, container: ApplicationContainer) -> int:
    import msgspec

    now = container.kernel.clock().now()
    async with container.unit_of_work() as uow:
        service = container.safety.flag_service(uow=uow)
        found = (
            await service.stale()
            if args.stale
            else await service.store.flags(include_archived=args.archived)
        )
    if args.json:
        print_json([{**msgspec.to_builtins(f), "stale": f.is_stale(now)} for f in found])
        return EXIT_OK
    rows = [
        [
            f.key,
            f.kind.value,
            "archived" if f.archived else _states(f),
            "STALE" if f.is_stale(now) else "",
            one_line(f.description, 40),
        ]
        for f in found
    ]
    print(table([["KEY", "KIND", "STATE", "", "DESCRIPTION"], *rows]))
    return EXIT_OK


async def _show(args: argparse.Namespace, container: ApplicationContainer) -> int:
    import msgspec

    async with container.unit_of_work() as uow:
        service = container.safety.flag_service(uow=uow)
        flag = await service.get(args.key)
        history = await service.store.history("flag", args.key, limit=args.history)
        schedules = await service.store.schedules(args.key)
    now = container.kernel.clock().now()
    if args.json:
        print_json(
            {
                "flag": {**msgspec.to_builtins(flag), "stale": flag.is_stale(now)},
                "schedules": msgspec.to_builtins(schedules),
                "history": msgspec.to_builtins(history),
            }
        )
        return EXIT_OK
    print(msgspec.json.format(msgspec.json.encode(flag), indent=2).decode())
    stale_at = flag.stale_at()
    print(f"\nstale: {'yes' if flag.is_stale(now) else 'no'} (after {when(stale_at)})")
    if schedules:
        print("\nscheduled:")
        print(
            table(
                [
                    ["AT", "ID", "BY", "REASON"],
                    *[
                        [when(s.apply_at), s.id, s.created_by or "-", one_line(s.reason, 50)]
                        for s in schedules
                    ],
                ]
            )
        )
    print("\nchanges (newest first):")
    print(
        table(
            [
                ["AT", "ACTION", "BY", "REASON"],
                *[
                    [when(c.at), c.action.value, c.actor or "-", one_line(c.reason, 60)]
                    for c in history
                ],
            ]
        )
    )
    return EXIT_OK


async def _change(
    args: argparse.Namespace,
    container: ApplicationContainer,
    work: Any,
) -> Any:
    """Run ``work(service)`` in a unit of work, commit, refresh this process's snapshot."""
    async with container.unit_of_work() as uow:
        service: FlagService = container.safety.flag_service(uow=uow)
        result = await work(service)
        await uow.commit()
    await container.safety.snapshots().refresh()
    return result


async def _create(args: argparse.Namespace, container: ApplicationContainer) -> int:
    from core.safety.flags import Flag, FlagKind

    flag = Flag(
        key=args.key,
        description=args.description,
        kind=FlagKind(args.kind),
        client_visible=args.client_visible,
    )
    created = await _change(
        args,
        container,
        lambda s: s.create(flag, reason=args.reason, actor=_actor(args)),
    )
    print(f"created {created.key} ({created.kind}), off in every environment")
    return EXIT_OK


async def _set(args: argparse.Namespace, container: ApplicationContainer) -> int:
    import msgspec

    from core.safety.flag_events import FlagPatch

    text = await asyncio.to_thread(Path(args.file).read_bytes)
    patch = msgspec.json.decode(text, type=FlagPatch)
    flag = await _change(
        args,
        container,
        lambda s: s.update(args.key, patch, reason=args.reason, actor=_actor(args)),
    )
    print(f"{flag.key} is at version {flag.version}")
    return EXIT_OK


async def _environment(
    args: argparse.Namespace, container: ApplicationContainer, **change: Any
) -> int:
    from core.safety.flag_service import environment_change

    env = _env(args, container)
    if args.at is None:
        flag = await _change(
            args,
            container,
            lambda s: s.set_environment(
                args.key, env, reason=args.reason, actor=_actor(args), **change
            ),
        )
        print(f"{flag.key} in {env}: {_states(flag)} (version {flag.version})")
        return EXIT_OK

    async def schedule(service: FlagService) -> Any:
        patch = environment_change(await service.get(args.key), env, **change)
        return await service.schedule(
            args.key, patch, apply_at=args.at, reason=args.reason, actor=_actor(args)
        )

    scheduled = await _change(args, container, schedule)
    print(f"scheduled {scheduled.id}: {args.key} in {env} at {when(scheduled.apply_at)}")
    return EXIT_OK


async def _archive(args: argparse.Namespace, container: ApplicationContainer) -> int:
    restore = args.flags_command == "restore"
    flag = await _change(
        args,
        container,
        lambda s: s.archive(args.key, reason=args.reason, actor=_actor(args), restore=restore),
    )
    print(f"{flag.key} {'restored' if restore else 'archived'}")
    return EXIT_OK


async def _evaluate(args: argparse.Namespace, container: ApplicationContainer) -> int:
    import msgspec

    from core.safety.flag_eval import EvaluationContext

    attributes = {}
    for pair in args.attr or ():
        name, _, value = pair.partition("=")
        attributes[name] = value
    await container.safety.snapshots().refresh(force=True)
    context = EvaluationContext(
        user_id=args.user,
        workspace_id=args.workspace,
        plan=args.plan,
        environment=getattr(args, "env", None),
        attributes=attributes,
    )
    result = container.safety.flags().evaluate(args.key, context)
    print_json(msgspec.to_builtins(result))
    return EXIT_OK


def _run(work: Any, args: argparse.Namespace) -> int:
    from core.kernel import DomainError

    settings = settings_for_command()
    configure_logging(settings)
    try:
        code: int = asyncio.run(with_container(settings, partial(work, args)))
    except DomainError as exc:
        print(f"ninefold flags {args.flags_command}: {exc.detail}", file=sys.stderr)
        return EXIT_FAILURE
    except (OSError, ValueError) as exc:
        print(f"ninefold flags {args.flags_command}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    return code


def _handler(args: argparse.Namespace) -> int:
    command = args.flags_command
    works: dict[str, Any] = {
        "list": _list,
        "stale": _list,
        "show": _show,
        "create": _create,
        "set": _set,
        "enable": partial(_environment_call, enabled=True),
        "disable": partial(_environment_call, enabled=False),
        "rollout": partial(_environment_call, rollout=None),
        "archive": _archive,
        "restore": _archive,
        "evaluate": _evaluate,
    }
    if command == "stale":
        args.stale, args.archived = True, False
    return _run(works[command], args)


async def _environment_call(
    args: argparse.Namespace, container: ApplicationContainer, **change: Any
) -> int:
    if "rollout" in change:
        change["rollout"] = args.percent
    return await _environment(args, container, **change)


def _when(text: str) -> datetime:
    at = datetime.fromisoformat(text)
    if at.tzinfo is None:
        raise argparse.ArgumentTypeError("give a time zone, e.g. 2030-01-01T09:00:00+00:00")
    return at


def _percent(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError("a percentage is 0 to 100")
    return value


def add_flags_parser(sub: Any) -> None:
    flags = sub.add_parser(
        "flags",
        help="feature flags: list, show, create, set, enable, disable, rollout, archive, ...",
        description="Feature flags. Every change needs --reason and is recorded with who, "
        "when, and the definition before and after; every process sees it within seconds.",
    )
    actions = flags.add_subparsers(dest="flags_command", required=True, metavar="ACTION")

    def action(name: str, help_text: str, *, key: bool = True, change: bool = False) -> Any:
        parser = actions.add_parser(name, help=help_text, description=help_text)
        if key:
            parser.add_argument("key", metavar="KEY")
        if change:
            parser.add_argument("--reason", required=True, help="why (kept with the change)")
            parser.add_argument("--by", help="who (default cli:$USER)")
        parser.set_defaults(handler=_handler)
        return parser

    listing = action("list", "every flag and its state per environment", key=False)
    listing.add_argument("--stale", action="store_true", help="only stale flags")
    listing.add_argument("--archived", action="store_true", help="archived ones too")
    listing.add_argument("--json", action="store_true", help="print JSON")
    stale = action("stale", "flags past their kind's expected lifetime", key=False)
    stale.add_argument("--json", action="store_true", help="print JSON")
    show = action("show", "a flag's definition, scheduled changes and history")
    show.add_argument("--history", type=int, default=20, help="changes shown (default 20)")
    show.add_argument("--json", action="store_true", help="print JSON")
    create = action("create", "create a boolean flag, off everywhere", change=True)
    create.add_argument("--description", default="")
    create.add_argument(
        "--kind",
        default="release",
        choices=["release", "experiment", "operational", "permission", "kill_switch"],
    )
    create.add_argument("--client-visible", action="store_true", help="answered to front ends")
    change = action("set", "apply a change from a JSON file (the PATCH body)", change=True)
    change.add_argument("--file", required=True, help="JSON: description, environments, ...")
    for name, text in [
        ("enable", "turn a flag on in an environment"),
        ("disable", "turn a flag off in an environment"),
        ("rollout", "set the first rule's rollout percentage"),
    ]:
        parser = action(name, text, change=True)
        if name == "rollout":
            parser.add_argument("percent", type=_percent, metavar="PERCENT")
        parser.add_argument("--env", choices=["development", "test", "production"])
        parser.add_argument("--at", type=_when, help="schedule it for this time (ISO 8601)")
    action("archive", "archive a flag: it serves its off variant", change=True)
    action("restore", "restore an archived flag", change=True)
    evaluate = action("evaluate", "what a context gets from a flag, and why")
    evaluate.add_argument("--user")
    evaluate.add_argument("--workspace")
    evaluate.add_argument("--plan")
    evaluate.add_argument("--env", choices=["development", "test", "production"])
    evaluate.add_argument("--attr", action="append", help="a custom attribute, name=value")
