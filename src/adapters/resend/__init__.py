"""The Resend adapter of the notifications system: the ``EmailSender`` port (the official
``resend`` SDK; nothing else in the project imports it) and the verifier of Resend's
Svix-signed delivery webhooks."""

from adapters.resend.email import (
    RESEND_BATCH_LIMIT,
    ResendEmailSender,
    category_from_tag,
    category_tag,
)
from adapters.resend.webhooks import ResendWebhookVerifier

__all__ = [
    "RESEND_BATCH_LIMIT",
    "ResendEmailSender",
    "ResendWebhookVerifier",
    "category_from_tag",
    "category_tag",
]
