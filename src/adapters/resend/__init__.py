"""The Resend adapter of the notifications system's ``EmailSender`` port (the official
``resend`` SDK; nothing else in the project imports it)."""

from adapters.resend.email import (
    RESEND_BATCH_LIMIT,
    ResendEmailSender,
    category_from_tag,
    category_tag,
)

__all__ = ["RESEND_BATCH_LIMIT", "ResendEmailSender", "category_from_tag", "category_tag"]
