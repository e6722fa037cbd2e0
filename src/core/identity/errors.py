"""Errors of the identity system, each with a stable problem type."""

from __future__ import annotations

from core.kernel import ConflictError, ValidationError


class InvalidEmailError(ValidationError):
    type = "identity/invalid-email"
    title = "The email address is not valid."


class InvalidPasswordError(ValidationError):
    type = "identity/invalid-password"
    title = "The password does not meet the rules."


class EmailTakenError(ConflictError):
    type = "identity/email-taken"
    title = "An account with this email already exists."
