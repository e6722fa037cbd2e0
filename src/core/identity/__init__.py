"""Identity & access: users, platform staff, workspaces (the tenant) and memberships.

Public API for other systems: the events below (subscribe to them) and the roles.
"""

from core.identity.accounts import AccountService
from core.identity.errors import (
    AccountBannedError,
    CsrfError,
    EmailTakenError,
    InvalidCredentialsError,
    InvalidEmailError,
    InvalidPasswordError,
    InvalidTokenError,
    SessionNotFoundError,
    UnauthenticatedError,
    WeakPasswordError,
)
from core.identity.events import (
    EmailVerified,
    MemberAdded,
    PasswordReset,
    UserRegistered,
    WorkspaceCreated,
)
from core.identity.model import (
    AuthSession,
    EmailToken,
    Membership,
    Principal,
    SessionPolicy,
    StaffRole,
    TokenPurpose,
    User,
    Workspace,
    WorkspaceRole,
    normalize_email,
)
from core.identity.ports import (
    EmailTokenRepository,
    PasswordHasher,
    PasswordPolicy,
    SessionRepository,
    UserRepository,
    WorkspaceRepository,
)
from core.identity.service import IdentityService
from core.identity.sessions import SESSION_TOKEN_PREFIX, SessionService, SignedIn
from core.identity.throttling import IdentityThrottle
from core.identity.tokens import hash_token, new_token

__all__ = [
    "SESSION_TOKEN_PREFIX",
    "AccountBannedError",
    "AccountService",
    "AuthSession",
    "CsrfError",
    "EmailTakenError",
    "EmailToken",
    "EmailTokenRepository",
    "EmailVerified",
    "IdentityService",
    "IdentityThrottle",
    "InvalidCredentialsError",
    "InvalidEmailError",
    "InvalidPasswordError",
    "InvalidTokenError",
    "MemberAdded",
    "Membership",
    "PasswordHasher",
    "PasswordPolicy",
    "PasswordReset",
    "Principal",
    "SessionNotFoundError",
    "SessionPolicy",
    "SessionRepository",
    "SessionService",
    "SignedIn",
    "StaffRole",
    "TokenPurpose",
    "UnauthenticatedError",
    "User",
    "UserRegistered",
    "UserRepository",
    "WeakPasswordError",
    "Workspace",
    "WorkspaceCreated",
    "WorkspaceRepository",
    "WorkspaceRole",
    "hash_token",
    "new_token",
    "normalize_email",
]
