"""What the notifications system sends: a request to notify someone, and the rendered
messages each channel carries."""

from __future__ import annotations

from typing import Any

import msgspec


class EmailMessage(msgspec.Struct, frozen=True, kw_only=True):
    """One email to one recipient, already rendered.

    ``idempotency_key`` makes a retried send a no-op: the same key is sent at most once.
    ``category`` names the notification type (``identity.verify_email``), for tags.
    ``headers`` are extra message headers (``List-Unsubscribe``,
    ``List-Unsubscribe-Post``), stored with the message and sent by providers.
    """

    to: str
    subject: str
    text: str
    html: str | None = None
    category: str
    idempotency_key: str
    headers: dict[str, str] | None = None


class Recipient(msgspec.Struct, frozen=True, kw_only=True):
    """Who a notification is for, and how to reach them.

    A channel is used only when the recipient can be reached on it: email needs
    ``email``, SMS needs ``phone`` (E.164), in-app needs ``user_id``. Someone who has no
    account yet (an invited address) is a recipient with an email only; preferences
    apply only to recipients with a ``user_id``. ``locale`` (``fr``, ``pt-BR``) picks
    template variants, falling back to the default templates.
    """

    user_id: str | None = None
    email: str | None = None
    phone: str | None = None
    name: str | None = None
    locale: str | None = None
    workspace_id: str | None = None


class NotificationRequest(msgspec.Struct, frozen=True, kw_only=True):
    """Notify ``recipient`` of a ``type`` (a declared notification type's name) with
    the template variables in ``data``. ``idempotency_key`` makes a repeated request
    (a retried HTTP call, a job run twice) send nothing more: each channel's delivery
    is keyed ``<idempotency_key>:<channel>``."""

    type: str
    recipient: Recipient
    data: dict[str, Any] = msgspec.field(default_factory=dict)
    idempotency_key: str


class Rendered(msgspec.Struct, frozen=True, kw_only=True):
    """A notification rendered for one channel: email uses all of ``subject``, ``text``
    and ``html``; SMS only ``text``; in-app ``subject`` (the title), ``text`` (the body)
    and ``link`` (where clicking it leads, when the type has one)."""

    subject: str | None = None
    text: str
    html: str | None = None
    link: str | None = None
