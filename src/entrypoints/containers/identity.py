"""The identity system's wiring."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta

from dependency_injector import containers, providers
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.argon2.hasher import Argon2PasswordHasher
from adapters.memory.identity import FastInsecurePasswordHasher
from adapters.pyotp.totp import PyotpTotpGenerator
from adapters.sql.identity.repositories import (
    SqlApiKeyRepository,
    SqlEmailTokenRepository,
    SqlInvitationRepository,
    SqlRecoveryCodeRepository,
    SqlSessionRepository,
    SqlTeamRepository,
    SqlUserRepository,
    SqlWorkspaceRepository,
)
from adapters.sql.uow import SqlUnitOfWork
from adapters.zxcvbn.policy import ZxcvbnPasswordPolicy
from core.identity import (
    AccountService,
    ApiKeyService,
    IdentityService,
    IdentityThrottle,
    InvitationService,
    PasswordHasher,
    PasswordPolicy,
    SessionPolicy,
    SessionService,
    StaffService,
    TeamService,
    TotpGenerator,
    TwoFactorService,
    WorkspaceService,
)
from core.kernel import Clock, IdGenerator
from core.notifications import Notifier
from entrypoints.settings import Settings


def _identity_service(
    uow: SqlUnitOfWork, hasher: PasswordHasher, clock: Clock, ids: IdGenerator
) -> IdentityService:
    return IdentityService(
        uow=uow,
        users=SqlUserRepository(uow.session),
        workspaces=SqlWorkspaceRepository(uow.session),
        hasher=hasher,
        clock=clock,
        ids=ids,
    )


def _session_service(
    *,
    session: AsyncSession,
    hasher: PasswordHasher,
    dummy_hash: str,
    clock: Clock,
    ids: IdGenerator,
    policy: SessionPolicy,
    throttle: IdentityThrottle,
) -> SessionService:
    users = SqlUserRepository(session)
    return SessionService(
        users=users,
        sessions=SqlSessionRepository(session),
        challenges=SqlEmailTokenRepository(session),
        hasher=hasher,
        dummy_hash=dummy_hash,
        clock=clock,
        ids=ids,
        policy=policy,
        throttle=throttle,
    )


def _workspace_service(*, uow: SqlUnitOfWork, clock: Clock) -> WorkspaceService:
    return WorkspaceService(
        uow=uow,
        workspaces=SqlWorkspaceRepository(uow.session),
        clock=clock,
        teams=SqlTeamRepository(uow.session),
    )


def _invitation_service(
    *,
    uow: SqlUnitOfWork,
    hasher: PasswordHasher,
    policy: PasswordPolicy,
    notifier_for: Callable[..., Notifier],
    clock: Clock,
    ids: IdGenerator,
    public_url: str,
    throttle: IdentityThrottle,
) -> InvitationService:
    return InvitationService(
        uow=uow,
        invitations=SqlInvitationRepository(uow.session),
        workspaces=SqlWorkspaceRepository(uow.session),
        users=SqlUserRepository(uow.session),
        hasher=hasher,
        policy=policy,
        notifier=notifier_for(uow=uow),
        clock=clock,
        ids=ids,
        public_url=public_url,
        throttle=throttle,
    )


def _team_service(*, uow: SqlUnitOfWork, clock: Clock, ids: IdGenerator) -> TeamService:
    return TeamService(
        teams=SqlTeamRepository(uow.session),
        workspaces=SqlWorkspaceRepository(uow.session),
        clock=clock,
        ids=ids,
    )


def _api_key_service(*, session: AsyncSession, clock: Clock, ids: IdGenerator) -> ApiKeyService:
    return ApiKeyService(keys=SqlApiKeyRepository(session), clock=clock, ids=ids)


def _session_policy(settings: Settings) -> SessionPolicy:
    return SessionPolicy(
        idle=timedelta(hours=settings.session_idle_hours),
        absolute=timedelta(days=settings.session_absolute_days),
    )


def _dummy_hash(hasher: PasswordHasher) -> str:
    """A hash of a random password: sign-in checks unknown emails against it, so they
    cost the same time as known ones."""
    return hasher.hash(secrets.token_urlsafe(16))


def _account_service(
    *,
    uow: SqlUnitOfWork,
    hasher: PasswordHasher,
    policy: PasswordPolicy,
    notifier_for: Callable[..., Notifier],
    clock: Clock,
    ids: IdGenerator,
    public_url: str,
    throttle: IdentityThrottle,
) -> AccountService:
    return AccountService(
        uow=uow,
        users=SqlUserRepository(uow.session),
        tokens=SqlEmailTokenRepository(uow.session),
        sessions=SqlSessionRepository(uow.session),
        hasher=hasher,
        policy=policy,
        notifier=notifier_for(uow=uow),
        clock=clock,
        ids=ids,
        public_url=public_url,
        throttle=throttle,
    )


def _two_factor_service(
    *,
    uow: SqlUnitOfWork,
    sessions_for: Callable[..., SessionService],
    totp: TotpGenerator,
    hasher: PasswordHasher,
    clock: Clock,
    ids: IdGenerator,
    throttle: IdentityThrottle,
    issuer: str,
) -> TwoFactorService:
    return TwoFactorService(
        users=SqlUserRepository(uow.session),
        recovery_codes=SqlRecoveryCodeRepository(uow.session),
        challenges=SqlEmailTokenRepository(uow.session),
        totp=totp,
        hasher=hasher,
        sessions=sessions_for(session=uow.session),
        clock=clock,
        ids=ids,
        throttle=throttle,
        issuer=issuer,
    )


def _staff_service(
    *,
    uow: SqlUnitOfWork,
    hasher: PasswordHasher,
    policy: PasswordPolicy,
    clock: Clock,
    ids: IdGenerator,
) -> StaffService:
    return StaffService(
        uow=uow,
        users=SqlUserRepository(uow.session),
        sessions=SqlSessionRepository(uow.session),
        hasher=hasher,
        policy=policy,
        clock=clock,
        ids=ids,
    )


class IdentityContainer(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    kernel = providers.DependenciesContainer()
    notifications = providers.DependenciesContainer()

    password_hasher = providers.Selector(
        settings.provided.password_hasher,
        argon2=providers.Singleton(Argon2PasswordHasher),
        **{"fast-insecure": providers.Singleton(FastInsecurePasswordHasher)},
    )
    service = providers.Factory(
        _identity_service, hasher=password_hasher, clock=kernel.clock, ids=kernel.ids
    )
    password_policy = providers.Singleton(ZxcvbnPasswordPolicy)
    throttle = providers.Singleton(IdentityThrottle, limiter=kernel.rate_limiter)
    accounts = providers.Factory(
        _account_service,
        hasher=password_hasher,
        policy=password_policy,
        notifier_for=notifications.notifier.provider,
        clock=kernel.clock,
        ids=kernel.ids,
        public_url=settings.provided.effective_public_url,
        throttle=throttle,
    )
    # Takes the unit of work: workspaces and members as a signed-in user sees them.
    workspaces = providers.Factory(_workspace_service, clock=kernel.clock)
    # Take the unit of work: invitations to a workspace, and its teams.
    invitations = providers.Factory(
        _invitation_service,
        hasher=password_hasher,
        policy=password_policy,
        notifier_for=notifications.notifier.provider,
        clock=kernel.clock,
        ids=kernel.ids,
        public_url=settings.provided.effective_public_url,
        throttle=throttle,
    )
    teams = providers.Factory(_team_service, clock=kernel.clock, ids=kernel.ids)
    # Takes the SQLAlchemy session: a unit of work's, or a read-only one (authentication).
    api_keys = providers.Factory(_api_key_service, clock=kernel.clock, ids=kernel.ids)
    session_policy = providers.Singleton(_session_policy, settings=settings)
    dummy_hash = providers.Singleton(_dummy_hash, hasher=password_hasher)
    # Takes the SQLAlchemy session to work in: a unit of work's, or a read-only one.
    sessions = providers.Factory(
        _session_service,
        hasher=password_hasher,
        dummy_hash=dummy_hash,
        clock=kernel.clock,
        ids=kernel.ids,
        policy=session_policy,
        throttle=throttle,
    )
    totp = providers.Singleton(PyotpTotpGenerator)
    # Takes the unit of work, like ``accounts``.
    two_factor = providers.Factory(
        _two_factor_service,
        sessions_for=sessions.provider,
        totp=totp,
        hasher=password_hasher,
        clock=kernel.clock,
        ids=kernel.ids,
        throttle=throttle,
        issuer="Ninefold",
    )
    # Takes the unit of work: platform staff and what they do to users.
    staff = providers.Factory(
        _staff_service,
        hasher=password_hasher,
        policy=password_policy,
        clock=kernel.clock,
        ids=kernel.ids,
    )
