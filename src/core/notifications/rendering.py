"""Rendering a notification for a channel: the port, and the names of the templates an
adapter looks for."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from core.notifications.catalog import Channel, NotificationType
from core.notifications.model import Rendered

# The templates of a type, in ``<templates package>/templates/<type name>/``; the ones
# marked required must exist for every channel the type declares.
TEMPLATE_FILES: dict[Channel, dict[str, tuple[str, bool]]] = {
    Channel.EMAIL: {
        "subject": ("email.subject.txt", True),
        "text": ("email.txt", True),
        "html": ("email.html", True),
    },
    Channel.SMS: {"text": ("sms.txt", True)},
    Channel.IN_APP: {
        "subject": ("in_app.title.txt", True),
        "text": ("in_app.txt", True),
        "link": ("in_app.link.txt", False),
    },
}


def locale_chain(locale: str | None) -> tuple[str, ...]:
    """The locales to try for ``locale``, most specific first, ending with ``""`` (the
    default templates): ``pt-BR`` → ``("pt-br", "pt", "")``."""
    if not locale:
        return ("",)
    parts = locale.strip().lower().replace("_", "-").split("-")
    chain = ["-".join(parts[:n]) for n in range(len(parts), 0, -1) if parts[0]]
    return (*dict.fromkeys(chain), "")


class TemplateRenderer(Protocol):
    """Renders a notification type's templates for a channel and locale.

    Raises ``TemplateError`` when a required template is missing or does not parse,
    and, in strict mode (tests, development), when the data lacks a variable a template
    uses."""

    def render(
        self,
        notification: NotificationType,
        channel: Channel,
        data: Mapping[str, Any],
        *,
        locale: str | None = None,
    ) -> Rendered: ...
