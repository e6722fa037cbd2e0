"""``ninefold billing sync`` and ``ninefold billing events list|replay``: the operator's
side of billing.

- ``sync``: create or update the payment provider's products and prices for the plan
  catalog and record the mapping (idempotent: unchanged prices make no call). Run it
  after changing ``plans.toml`` and when switching providers; a checkout of a price the
  provider lacks syncs on the spot too.
- ``events list``: the payment provider's stored webhook events, newest first, with
  their outcome (``pending``, ``processed``, ``ignored``, ``failed``).
- ``events replay PROVIDER EVENT_ID``: apply a stored event again (after fixing what
  made it fail, e.g. a sync); applying is idempotent.
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


async def _sync(args: argparse.Namespace, container: ApplicationContainer) -> int:
    async with container.unit_of_work() as uow:
        service = container.billing.service(uow=uow)
        before = await service.stores.prices.all(service.provider.name)
        synced = await service.sync_prices()
        await uow.commit()
    rows = [
        [
            price.key,
            price.provider_product_id,
            price.provider_price_id,
            "unchanged" if before.get(price.key) == price else "created",
        ]
        for price in synced
    ]
    if args.json:
        print_json([{"key": r[0], "product": r[1], "price": r[2], "state": r[3]} for r in rows])
    else:
        print(f"{container.settings().payments_provider}: {len(rows)} prices")
        print(table([["KEY", "PRODUCT", "PRICE", ""], *rows]))
    return EXIT_OK


async def _events_list(args: argparse.Namespace, container: ApplicationContainer) -> int:
    from core.billing.ports import WebhookEventStatus

    async with container.unit_of_work() as uow:
        events = await container.billing.stores(uow.session).webhook_events.page(
            provider=args.provider,
            status=WebhookEventStatus(args.status) if args.status else None,
            limit=args.limit,
        )
    if args.json:
        print_json(
            [
                {
                    "provider": e.provider,
                    "event_id": e.event_id,
                    "type": e.type,
                    "status": e.status.value,
                    "received_at": e.received_at.isoformat(),
                    "attempts": e.attempts,
                    "detail": e.detail,
                }
                for e in events
            ]
        )
        return EXIT_OK
    rows = [
        [when(e.received_at), e.provider, e.event_id, e.type, e.status.value, e.detail[:60]]
        for e in events
    ]
    print(table([["RECEIVED", "PROVIDER", "EVENT", "TYPE", "STATUS", "DETAIL"], *rows]))
    return EXIT_OK


async def _events_replay(args: argparse.Namespace, container: ApplicationContainer) -> int:
    from entrypoints.billing.ingest import replay_event

    replayed = await replay_event(container, args.provider, args.event_id)
    print(f"{replayed.provider} {replayed.event_id} ({replayed.type}) queued to be applied again")
    return EXIT_OK


def _run(name: str, work: Any, args: argparse.Namespace) -> int:
    from core.kernel import DomainError

    settings = settings_for_command()
    configure_logging(settings)
    try:
        code: int = asyncio.run(with_container(settings, partial(work, args)))
    except DomainError as exc:
        print(f"ninefold billing {name}: {exc.detail}", file=sys.stderr)
        return EXIT_FAILURE
    return code


def cmd_sync(args: argparse.Namespace) -> int:
    return _run("sync", _sync, args)


def cmd_events(args: argparse.Namespace) -> int:
    work = _events_list if args.events_command == "list" else _events_replay
    return _run(f"events {args.events_command}", work, args)


def add_sync_parser(billing_sub: Any) -> None:
    sync = billing_sub.add_parser(
        "sync",
        help="create or update the provider's products and prices for the plan catalog",
        description="Create or update the payment provider's products and prices for the "
        "plan catalog, and record the mapping. Idempotent: unchanged prices make no call; "
        "a changed price gets a new one at the provider.",
    )
    sync.add_argument("--json", action="store_true", help="print JSON")
    sync.set_defaults(handler=cmd_sync)


def add_events_parser(billing_sub: Any) -> None:
    events = billing_sub.add_parser(
        "events",
        help="the payment provider's stored webhook events: list, replay",
        description="The payment provider's webhook events as billing stored them.",
    )
    actions = events.add_subparsers(dest="events_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="stored events, newest first")
    listing.add_argument("--provider", choices=["sandbox", "stripe", "dodo"])
    listing.add_argument(
        "--status", choices=["pending", "processed", "ignored", "failed"], help="only these"
    )
    listing.add_argument("--limit", type=int, default=50, help="how many (default 50)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    replay = actions.add_parser("replay", help="apply a stored event again")
    replay.add_argument("provider", choices=["sandbox", "stripe", "dodo"])
    replay.add_argument("event_id", metavar="EVENT_ID")
    events.set_defaults(handler=cmd_events)
