"""Identity & access: users, platform staff, workspaces (the tenant) and memberships.

Public API for other systems: the events below (subscribe to them) and the roles.
"""

from core.identity.errors import (
    AccountBannedError,
    CsrfError,
    EmailTakenError,
    InvalidCredentialsError,
    InvalidEmailError,
    InvalidPasswordError,
    SessionNotFoundError,
    UnauthenticatedError,
)
from core.identity.events import MemberAdded, UserRegistered, WorkspaceCreated
from core.identity.model import (
    AuthSession,
    Membership,
    Principal,
    SessionPolicy,
    StaffRole,
    User,
    Workspace,
    WorkspaceRole,
    normalize_email,
)
from core.identity.ports import (
    PasswordHasher,
    SessionRepository,
    UserRepository,
    WorkspaceRepository,
)
from core.identity.service import IdentityService
from core.identity.sessions import SESSION_TOKEN_PREFIX, SessionService, SignedIn
from core.identity.tokens import hash_token, new_token

__all__ = [
    "SESSION_TOKEN_PREFIX",
    "AccountBannedError",
    "AuthSession",
    "CsrfError",
    "EmailTakenError",
    "IdentityService",
    "InvalidCredentialsError",
    "InvalidEmailError",
    "InvalidPasswordError",
    "MemberAdded",
    "Membership",
    "PasswordHasher",
    "Principal",
    "SessionNotFoundError",
    "SessionPolicy",
    "SessionRepository",
    "SessionService",
    "SignedIn",
    "StaffRole",
    "UnauthenticatedError",
    "User",
    "UserRegistered",
    "UserRepository",
    "Workspace",
    "WorkspaceCreated",
    "WorkspaceRepository",
    "WorkspaceRole",
    "hash_token",
    "new_token",
    "normalize_email",
]
