"""Errors of the notifications system, each with a stable problem type."""

from __future__ import annotations

from core.kernel import DomainError, NotFoundError, ValidationError


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


class InvalidDeliveryTransitionError(DomainError):
    """A delivery state change the state machine does not allow."""

    type = "notifications/invalid-delivery-transition"
    status = 409
    title = "The delivery cannot move to that state."


class TemplateError(DomainError):
    """A notification's template is missing, does not parse, or uses a variable the
    data does not have."""

    type = "notifications/template-error"
    status = 500
    title = "A notification template could not be rendered."


class InvalidUnsubscribeTokenError(ValidationError):
    """An unsubscribe link's token that is malformed or not signed by this application."""

    type = "notifications/invalid-unsubscribe-token"
    title = "The unsubscribe link is not valid."


class InAppNotificationNotFoundError(NotFoundError):
    type = "notifications/notification-not-found"
    title = "There is no such notification."


class EmailNotFoundError(NotFoundError):
    type = "notifications/email-not-found"
    title = "There is no such email in the outbox."


class InvalidWebhookSignatureError(DomainError):
    """A provider webhook whose signature does not verify: a wrong or missing
    signature, a body changed on the way, or a timestamp outside the tolerance (a
    replay of an old delivery)."""

    type = "notifications/invalid-webhook-signature"
    status = 400
    title = "The webhook signature is not valid."


class SuppressionNotFoundError(NotFoundError):
    type = "notifications/suppression-not-found"
    title = "The address is not on the suppression list."
