"""Identity & access: users, platform staff, workspaces (the tenant) and memberships.

Public API for other systems: the events below (subscribe to them) and the roles.
"""

from core.identity.errors import EmailTakenError, InvalidEmailError, InvalidPasswordError
from core.identity.events import MemberAdded, UserRegistered, WorkspaceCreated
from core.identity.model import (
    Membership,
    StaffRole,
    User,
    Workspace,
    WorkspaceRole,
    normalize_email,
)
from core.identity.ports import PasswordHasher, UserRepository, WorkspaceRepository
from core.identity.service import IdentityService

__all__ = [
    "EmailTakenError",
    "IdentityService",
    "InvalidEmailError",
    "InvalidPasswordError",
    "MemberAdded",
    "Membership",
    "PasswordHasher",
    "StaffRole",
    "User",
    "UserRegistered",
    "UserRepository",
    "Workspace",
    "WorkspaceCreated",
    "WorkspaceRepository",
    "WorkspaceRole",
    "normalize_email",
]
