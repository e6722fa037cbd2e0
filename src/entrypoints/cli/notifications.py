"""``ninefold notifications``: the declared notification types, and previews of their
templates rendered with sample data (docs/systems/notifications.md, "Templates").

Nothing here touches the database or sends anything: ``preview`` renders a type's
templates in strict mode with its ``sample`` data, the common keys (``app_name`` and
``public_url`` from the settings) and ``--data``, and prints what each channel carries.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from entrypoints.cli.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from entrypoints.settings import load_settings

if TYPE_CHECKING:
    from core.notifications import Channel, NotificationCatalog, NotificationType, Rendered

CHANNELS = ("email", "sms", "in_app")  # the values of core.notifications.Channel
SAMPLE_TOKEN = "sample-token"  # stands for the signed token of an unsubscribe link


def notification_catalog() -> NotificationCatalog:
    """Every notification type the application's systems declare."""
    from core.billing.notifications import BILLING_NOTIFICATIONS
    from core.identity.notifications import IDENTITY_NOTIFICATIONS
    from core.notifications import NotificationCatalog
    from core.safety.data_notifications import DATA_NOTIFICATIONS
    from core.workflows.notifications import WORKFLOWS_NOTIFICATIONS

    return NotificationCatalog(
        [
            *IDENTITY_NOTIFICATIONS,
            *WORKFLOWS_NOTIFICATIONS,
            *BILLING_NOTIFICATIONS,
            *DATA_NOTIFICATIONS,
        ]
    )


def json_object(text: str) -> dict[str, Any]:
    """An argparse type: a JSON object."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError('expected a JSON object, e.g. {"name": "Ada"}')
    return value


def preview_context(
    notification: NotificationType,
    channel: Channel,
    *,
    app_name: str,
    public_url: str,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What the send use case would give the templates: the common keys (an unsubscribe
    link only for types people may opt out of), the type's sample, then ``data``."""
    from core.notifications.service import PREFERENCES_PATH, UNSUBSCRIBE_PATH

    unsubscribe_url = None
    if notification.opt_out:
        unsubscribe_url = f"{public_url}{UNSUBSCRIBE_PATH}?token={SAMPLE_TOKEN}"
    return {
        "app_name": app_name,
        "public_url": public_url,
        "recipient_name": "Ada Lovelace",
        "preferences_url": f"{public_url}{PREFERENCES_PATH}",
        "unsubscribe_url": unsubscribe_url,
        **notification.sample,
        **(data or {}),
    }


def cmd_notifications(args: argparse.Namespace) -> int:
    if args.notifications_command == "types":
        return _types()
    return _preview(args)


def _types() -> int:
    rows = [("TYPE", "CATEGORY", "CHANNELS", "DEFAULT CHANNELS", "OPT-OUT")]
    for notification in notification_catalog().all():
        rows.append(
            (
                notification.name,
                notification.category,
                _channels(notification.channels),
                _channels(notification.default_channels) or "-",
                "yes" if notification.opt_out else "no",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1]]))
    return EXIT_OK


def _preview(args: argparse.Namespace) -> int:
    from adapters.jinja import JinjaTemplateRenderer
    from core.notifications import Channel, TemplateError, UnknownNotificationTypeError

    catalog = notification_catalog()
    try:
        notification = catalog.get(args.type)
    except UnknownNotificationTypeError:
        known = "\n".join(f"  {t.name}" for t in catalog.all())
        print(
            f"ninefold notifications preview: unknown notification type {args.type!r}; "
            f"the types are:\n{known}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if args.channel is not None and Channel(args.channel) not in notification.channels:
        print(
            f"ninefold notifications preview: {notification.name} is not sent on "
            f"{args.channel}; its channels: {_channels(notification.channels)}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    channels = (
        [Channel(args.channel)]
        if args.channel
        else [c for c in Channel if c in notification.channels]
    )
    settings = load_settings()
    renderer = JinjaTemplateRenderer(strict=True)
    try:
        for channel in channels:
            data = preview_context(
                notification,
                channel,
                app_name=settings.app_name,
                public_url=settings.effective_public_url,
                data=args.data,
            )
            rendered = renderer.render(notification, channel, data, locale=args.locale)
            _print_rendered(notification, channel, args.locale, rendered)
    except TemplateError as exc:
        print(f"ninefold notifications preview: {exc.detail}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


def _print_rendered(
    notification: NotificationType, channel: Channel, locale: str | None, rendered: Rendered
) -> None:
    from core.notifications import Channel

    print(f"===== {notification.name} · {channel} · locale {locale or 'default'} =====")
    sections: list[tuple[str, str | None]]
    if channel is Channel.EMAIL:
        sections = [("subject", rendered.subject), ("text", rendered.text), ("html", rendered.html)]
    elif channel is Channel.IN_APP:
        sections = [("title", rendered.subject), ("text", rendered.text), ("link", rendered.link)]
    else:
        sections = [("text", rendered.text)]
    for title, body in sections:
        print(f"----- {title} -----")
        print(body if body is not None else "(none)")
    print()


def _channels(channels: frozenset[Channel]) -> str:
    from core.notifications import Channel

    return ",".join(c.value for c in Channel if c in channels)


def add_notifications_parser(sub: Any) -> None:
    """``ninefold notifications types|preview``."""
    notifications = sub.add_parser(
        "notifications",
        help="notification types and previews of their templates",
        description="List the declared notification types, or render a type's templates "
        "with its sample data to see what would be sent. Nothing is sent or stored.",
    )
    actions = notifications.add_subparsers(
        dest="notifications_command", required=True, metavar="ACTION"
    )
    actions.add_parser(
        "types",
        help="list every notification type",
        description="List every declared notification type with its category, the channels "
        "it may use, the channels it uses by default, and whether people may opt out of it.",
    )
    preview = actions.add_parser(
        "preview",
        help="render a type's templates with sample data",
        description="Render a notification type's templates in strict mode (a variable the "
        "data lacks is an error) with the type's sample data merged with --data, and print "
        "each channel's parts: subject, text and HTML for email; title, text and link for "
        "in-app; the text of an SMS. Exit 2 for an unknown type or channel, 1 for a "
        "template error.",
    )
    preview.add_argument("type", metavar="TYPE", help="the type, e.g. identity.verify_email")
    preview.add_argument(
        "--channel", choices=CHANNELS, help="only this channel (default: each of the type's)"
    )
    preview.add_argument("--locale", help="the recipient's locale, e.g. fr or pt-BR")
    preview.add_argument(
        "--data",
        type=json_object,
        help='a JSON object merged over the sample data, e.g. \'{"name": "Grace"}\'',
    )
    notifications.set_defaults(handler=cmd_notifications)
