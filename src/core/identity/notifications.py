"""The notifications identity sends, declared for the notifications system's catalog.

Every one of them concerns the security of an account or an invitation someone asked
to send, so none can be turned off."""

from __future__ import annotations

from core.notifications import Channel, NotificationType

_EMAIL = frozenset({Channel.EMAIL})

VERIFY_EMAIL = NotificationType(
    "identity.verify_email",
    "security",
    channels=_EMAIL,
    default_channels=_EMAIL,
    opt_out=False,
    description="The link that confirms a new account's email address",
)
RESET_PASSWORD = NotificationType(
    "identity.reset_password",
    "security",
    channels=_EMAIL,
    default_channels=_EMAIL,
    opt_out=False,
    description="The link that sets a new password",
)
ALREADY_REGISTERED = NotificationType(
    "identity.already_registered",
    "security",
    channels=_EMAIL,
    default_channels=_EMAIL,
    opt_out=False,
    description="Someone tried to sign up with an address that has an account",
)
WORKSPACE_INVITATION = NotificationType(
    "workspace.invitation",
    "account",
    channels=_EMAIL,
    default_channels=_EMAIL,
    opt_out=False,
    description="An invitation to join a workspace, sent to the invited address",
)

IDENTITY_NOTIFICATIONS = (VERIFY_EMAIL, RESET_PASSWORD, ALREADY_REGISTERED, WORKSPACE_INVITATION)
