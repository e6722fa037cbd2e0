"""``ninefold mail``: read the mail outbox, and each email's delivery.

The commands act as the operator (shell access to the server is the authority, as for
``ninefold staff``) and read what ``/api/v1/admin/outbox`` answers, in one unit of work
of the app's database; ``--json`` prints the API's answer.
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
    one_line,
    print_json,
    settings_for_command,
    table,
    when,
    with_container,
)
from entrypoints.cli.jobs import positive_int
from entrypoints.logging import configure_logging

if TYPE_CHECKING:
    from entrypoints.containers import ApplicationContainer
    from entrypoints.http.notifications.outbox_views import EmailOut

PAGE_MAX = 200  # entrypoints.http.notifications.admin.PAGE_MAX (a test checks they agree)
PAGE_DEFAULT = 50
SUBJECT_WIDTH = 60


def page_size(text: str) -> int:
    value = positive_int(text)
    if value > PAGE_MAX:
        raise argparse.ArgumentTypeError(f"at most {PAGE_MAX}: {value}")
    return value


# --- the commands --------------------------------------------------------------------------


async def _mail_list(args: argparse.Namespace, container: ApplicationContainer) -> int:
    from entrypoints.http.notifications.outbox_views import outbox_page

    async with container.unit_of_work() as uow:
        page = await outbox_page(uow.session, to=args.to, cursor=args.cursor, limit=args.limit)
    if args.json:
        print_json(page)
        return EXIT_OK
    if not page.emails:
        print("no email in the outbox" + (f" to {args.to}" if args.to else ""))
        return EXIT_OK
    rows = [("ID", "CREATED", "STATUS", "TO", "SUBJECT")]
    rows += [
        (
            email.id,
            when(email.created_at),
            email.status,
            email.to,
            one_line(email.subject, SUBJECT_WIDTH),
        )
        for email in page.emails
    ]
    print(table(rows))
    if page.next_cursor:
        print(f"more emails: run again with --cursor {page.next_cursor}", file=sys.stderr)
    return EXIT_OK


def _describe(email: EmailOut) -> str:
    fields = [
        ("id", email.id),
        ("to", email.to),
        ("subject", email.subject),
        ("category", email.category),
        ("status", email.status),
        ("created", when(email.created_at)),
        ("idempotency key", email.idempotency_key),
    ]
    width = max(len(label) for label, _ in fields)
    lines = [f"{label:<{width}}  {value}" for label, value in fields]
    lines.append("headers" if email.headers else "headers  (none)")
    lines += [f"  {name}: {value}" for name, value in sorted(email.headers.items())]
    delivery = email.delivery
    if delivery is None:
        lines.append("delivery  (none: stored without a delivery record)")
    else:
        states = [
            ("queued", delivery.queued_at),
            ("sent", delivery.sent_at),
            ("delivered", delivery.delivered_at),
            ("bounced", delivery.bounced_at),
            ("complained", delivery.complained_at),
            ("failed", delivery.failed_at),
            ("suppressed", delivery.suppressed_at),
        ]
        message_id = delivery.provider_message_id
        lines += [
            "delivery",
            f"  id        {delivery.id}",
            f"  status    {delivery.status.value}",
            f"  provider  {delivery.provider or '-'}"
            + (f" (message {message_id})" if message_id else ""),
            *(f"  {name:<10}{when(at)}" for name, at in states if at is not None),
            f"  error     {delivery.error or '-'}",
        ]
    lines += ["text", *_indented(email.text)]
    if email.html is None:
        lines.append("html  (none)")
    else:
        lines += ["html", *_indented(email.html)]
    return "\n".join(lines)


def _indented(body: str) -> list[str]:
    """A body's lines, two spaces in; blank lines stay empty."""
    return [f"  {line}".rstrip() if line.strip() else "" for line in body.rstrip().splitlines()]


async def _mail_show(args: argparse.Namespace, container: ApplicationContainer) -> int:
    from entrypoints.http.notifications.outbox_views import email_detail

    async with container.unit_of_work() as uow:
        email = await email_detail(uow.session, args.email_id)
    if args.json:
        print_json(email)
    else:
        print(_describe(email))
    return EXIT_OK


COMMANDS = {"list": _mail_list, "show": _mail_show}


def cmd_mail(args: argparse.Namespace) -> int:
    """The mail outbox. Domain errors (an unknown id) exit 1, in one line."""
    from core.kernel import DomainError

    settings = settings_for_command()
    configure_logging(settings)
    work = partial(COMMANDS[args.mail_command], args)
    try:
        return asyncio.run(with_container(settings, work))
    except DomainError as exc:
        print(f"ninefold mail {args.mail_command}: {exc.detail}", file=sys.stderr)
        return EXIT_FAILURE


def add_mail_parser(sub: Any) -> None:
    """``ninefold mail list|show``."""
    mail = sub.add_parser(
        "mail",
        help="the mail outbox: list emails, show one with its delivery",
        description="Read the mail outbox: every email the app stored, newest first, and "
        "one in full with its delivery state. The same reads as /api/v1/admin/outbox, "
        "acting as the operator.",
    )
    mail_sub = mail.add_subparsers(dest="mail_command", required=True, metavar="ACTION")

    listing = mail_sub.add_parser(
        "list",
        help="list emails, newest first",
        description="List emails, newest first, a page at a time. When there are more, the "
        "command says which --cursor gives the next page.",
    )
    listing.add_argument("--to", metavar="ADDRESS", help="only mail to this address")
    listing.add_argument(
        "--limit",
        type=page_size,
        default=PAGE_DEFAULT,
        help=f"emails per page, 1-{PAGE_MAX} (default {PAGE_DEFAULT})",
    )
    listing.add_argument("--cursor", help="the id the page before ended with")
    listing.add_argument("--json", action="store_true", help="print JSON, as the API answers")

    show = mail_sub.add_parser(
        "show",
        help="one email in full, with its delivery",
        description="Print one email: recipient, subject, headers, delivery state with "
        "every timestamp, the text body and the HTML body.",
    )
    show.add_argument("email_id", metavar="ID", help="the email's id (eml_...)")
    show.add_argument("--json", action="store_true", help="print JSON, as the API answers")
    mail.set_defaults(handler=cmd_mail)
