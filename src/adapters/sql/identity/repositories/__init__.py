"""SQL repositories of the identity system, one module per aggregate."""

from adapters.sql.identity.repositories.api_keys import SqlApiKeyRepository
from adapters.sql.identity.repositories.invitations import SqlInvitationRepository
from adapters.sql.identity.repositories.sessions import SqlSessionRepository
from adapters.sql.identity.repositories.teams import SqlTeamRepository
from adapters.sql.identity.repositories.tokens import (
    SqlEmailTokenRepository,
    SqlRecoveryCodeRepository,
)
from adapters.sql.identity.repositories.users import SqlUserRepository
from adapters.sql.identity.repositories.workspaces import SqlWorkspaceRepository

__all__ = [
    "SqlApiKeyRepository",
    "SqlEmailTokenRepository",
    "SqlInvitationRepository",
    "SqlRecoveryCodeRepository",
    "SqlSessionRepository",
    "SqlTeamRepository",
    "SqlUserRepository",
    "SqlWorkspaceRepository",
]
