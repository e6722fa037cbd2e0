"""Users, workspaces (the tenant) and memberships, with the roles that join them."""

from __future__ import annotations

import enum
import re
from datetime import datetime

import msgspec

from core.identity.errors import InvalidEmailError

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
EMAIL_MAX_LENGTH = 254


class WorkspaceRole(enum.StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"
    BILLING = "billing"
    VIEWER = "viewer"


class StaffRole(enum.StrEnum):
    """Platform staff roles: a separate axis from workspace roles."""

    SUPPORT = "support"
    OPS = "ops"
    SUPERADMIN = "superadmin"


def normalize_email(raw: str) -> str:
    """Trim and lowercase; emails are unique case-insensitively."""
    email = raw.strip().lower()
    if len(email) > EMAIL_MAX_LENGTH or not _EMAIL.match(email):
        raise InvalidEmailError(f"{raw!r} is not an email address", field="email")
    return email


class User(msgspec.Struct, kw_only=True):
    id: str
    email: str
    name: str
    password_hash: str
    created_at: datetime
    staff_role: StaffRole | None = None


class Workspace(msgspec.Struct, kw_only=True):
    id: str
    name: str
    created_at: datetime


class Membership(msgspec.Struct, kw_only=True):
    workspace_id: str
    user_id: str
    role: WorkspaceRole
    created_at: datetime
