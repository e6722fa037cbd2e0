"""Errors of the identity system, each with a stable problem type."""

from __future__ import annotations

from core.kernel import ConflictError, DomainError, NotFoundError, ValidationError


class InvalidEmailError(ValidationError):
    type = "identity/invalid-email"
    title = "The email address is not valid."


class InvalidPasswordError(ValidationError):
    type = "identity/invalid-password"
    title = "The password does not meet the rules."


class EmailTakenError(ConflictError):
    type = "identity/email-taken"
    title = "An account with this email already exists."


class InvalidCredentialsError(DomainError):
    """Wrong email or password. Deliberately the same for an unknown email."""

    type = "identity/invalid-credentials"
    status = 401
    title = "The email or password is not correct."


class UnauthenticatedError(DomainError):
    type = "unauthenticated"
    status = 401
    title = "Sign in to do this."


class AccountBannedError(DomainError):
    type = "identity/account-banned"
    status = 403
    title = "This account is banned."


class SessionNotFoundError(NotFoundError):
    type = "identity/session-not-found"
    title = "There is no such session of yours."


class CsrfError(DomainError):
    type = "identity/csrf-failed"
    status = 403
    title = "The request lacks a valid CSRF token."


class InvalidTokenError(DomainError):
    """An email link's token is unknown, expired or used: deliberately one answer."""

    type = "identity/invalid-token"
    status = 400
    title = "This link is invalid or has expired."


class WeakPasswordError(ValidationError):
    type = "identity/weak-password"
    title = "Choose a stronger password."
