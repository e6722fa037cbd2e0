"""The notifications identity sends, declared for the notifications system's catalog.

Every one of them concerns the security of an account or an invitation someone asked
to send, so none can be turned off."""

from __future__ import annotations

from core.notifications import Channel, NotificationType

_EMAIL = frozenset({Channel.EMAIL})
_TEMPLATES = "core.identity"  # core/identity/templates/<type name>/

VERIFY_EMAIL = NotificationType(
    "identity.verify_email",
    "security",
    channels=_EMAIL,
    default_channels=_EMAIL,
    opt_out=False,
    description="The link that confirms a new account's email address",
    templates=_TEMPLATES,
    sample={
        "name": "Ada Lovelace",
        "link": "https://app.example.com/verify-email?token=vt_sample",
        "hours": 48,
    },
)
RESET_PASSWORD = NotificationType(
    "identity.reset_password",
    "security",
    channels=_EMAIL,
    default_channels=_EMAIL,
    opt_out=False,
    description="The link that sets a new password",
    templates=_TEMPLATES,
    sample={
        "name": "Ada Lovelace",
        "link": "https://app.example.com/reset-password?token=rt_sample",
        "hours": 1,
    },
)
ALREADY_REGISTERED = NotificationType(
    "identity.already_registered",
    "security",
    channels=_EMAIL,
    default_channels=_EMAIL,
    opt_out=False,
    description="Someone tried to sign up with an address that has an account",
    templates=_TEMPLATES,
    sample={
        "name": "Ada Lovelace",
        "sign_in_url": "https://app.example.com/sign-in",
        "reset_url": "https://app.example.com/forgot-password",
    },
)
WORKSPACE_INVITATION = NotificationType(
    "workspace.invitation",
    "account",
    channels=_EMAIL,
    default_channels=_EMAIL,
    opt_out=False,
    description="An invitation to join a workspace, sent to the invited address",
    templates=_TEMPLATES,
    sample={
        "inviter_name": "Grace Hopper",
        "workspace_name": "Analytical Engines",
        "role": "member",
        "link": "https://app.example.com/invitations/inv_sample",
        "days": 7,
    },
)

IDENTITY_NOTIFICATIONS = (VERIFY_EMAIL, RESET_PASSWORD, ALREADY_REGISTERED, WORKSPACE_INVITATION)
