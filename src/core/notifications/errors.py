"""Errors of the notifications system, each with a stable problem type."""

from __future__ import annotations

from core.kernel import DomainError, ValidationError


class InvalidPhoneNumberError(ValidationError):
    """A phone number is not in E.164 form (or, from a parser, is no real number)."""

    type = "notifications/invalid-phone-number"
    title = "The phone number is not valid."


class InvalidSmsBodyError(ValidationError):
    """An SMS body that cannot be sent: empty, or (``SmsTooLongError``) too long."""

    type = "notifications/invalid-sms-body"
    title = "The text message body is not valid."


class SmsTooLongError(InvalidSmsBodyError):
    """An SMS body needing more segments than the sender allows."""

    type = "notifications/sms-too-long"
    title = "The text message is too long."


class EmailRejectedError(DomainError):
    """The email provider refused the message as invalid (a bad address, a malformed
    field, an idempotency key reused for another message). Sending it again fails the
    same way: do not retry."""

    type = "notifications/email-rejected"
    status = 422
    title = "The email provider rejected the message."


class EmailProviderUnavailableError(DomainError):
    """The email provider could not take the message now (rate limit, server error,
    network failure, refused credentials). Retry later with the same idempotency key."""

    type = "notifications/email-provider-unavailable"
    status = 503
    title = "The email provider is unavailable."


class UnknownNotificationTypeError(DomainError):
    """A notification type that no system declared."""

    type = "notifications/unknown-notification-type"
    status = 422
    title = "There is no such notification type."


class DuplicateNotificationTypeError(ValueError):
    """Two different notification types with one name: a programming error, raised at
    start-up."""


class InvalidPreferenceError(ValidationError):
    """A preference that cannot be set: an unknown category, a channel the category
    does not use, or a category everyone receives (security, legal)."""

    type = "notifications/invalid-preference"
    title = "The notification preference cannot be set."
