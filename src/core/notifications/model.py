"""What the notifications system sends. (The notifications issue adds templates,
preferences, in-app messages and delivery state; this is the email port they build on.)"""

from __future__ import annotations

import msgspec


class EmailMessage(msgspec.Struct, frozen=True, kw_only=True):
    """One email to one recipient, already rendered.

    ``idempotency_key`` makes a retried send a no-op: the same key is sent at most once.
    ``category`` names the notification type (``identity.verify_email``), for tags and
    for preferences later. ``headers`` are extra message headers for providers that
    send them (``List-Unsubscribe``, ``List-Unsubscribe-Post``); the mail outbox does
    not store them yet.
    """

    to: str
    subject: str
    text: str
    html: str | None = None
    category: str
    idempotency_key: str
    headers: dict[str, str] | None = None
