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


class WorkspaceNotFoundError(NotFoundError):
    """No such workspace, or not one of yours: deliberately the same answer."""

    type = "identity/workspace-not-found"
    title = "There is no such workspace."


class MemberNotFoundError(NotFoundError):
    type = "identity/member-not-found"
    title = "There is no such member in this workspace."


class LastOwnerError(ConflictError):
    type = "identity/last-owner"
    title = "A workspace keeps at least one owner."


class InvalidTwoFactorCodeError(DomainError):
    """A wrong, reused or malformed authenticator or recovery code."""

    type = "identity/invalid-two-factor-code"
    status = 400
    title = "The code is not correct."


class TwoFactorChallengeError(DomainError):
    """The sign-in challenge is unknown, expired or used: sign in again."""

    type = "identity/invalid-two-factor-challenge"
    status = 400
    title = "This sign-in attempt has expired; sign in again."


class TwoFactorStateError(ConflictError):
    """Enrolling when two-factor is on, confirming without enrolling, disabling when off."""

    type = "identity/two-factor-state"
    title = "Two-factor authentication is not in the state this needs."


class WrongPasswordError(DomainError):
    """The signed-in user's password, asked again to confirm a sensitive change."""

    type = "identity/wrong-password"
    status = 403
    title = "The password is not correct."


class AlreadyMemberError(ConflictError):
    type = "identity/already-member"
    title = "This person is already a member of the workspace."


class InvitationNotFoundError(NotFoundError):
    type = "identity/invitation-not-found"
    title = "There is no such pending invitation in this workspace."


class InvitationEmailMismatchError(DomainError):
    """The signed-in user is not the person the invitation was sent to."""

    type = "identity/invitation-email-mismatch"
    status = 403
    title = "This invitation was sent to another email address."


class TeamNotFoundError(NotFoundError):
    type = "identity/team-not-found"
    title = "There is no such team in this workspace."


class TeamNameTakenError(ConflictError):
    type = "identity/team-name-taken"
    title = "The workspace already has a team with this name."


class ApiKeyNotFoundError(NotFoundError):
    type = "identity/api-key-not-found"
    title = "There is no such API key in this workspace."
