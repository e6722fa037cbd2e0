"""The composition root: one dependency-injector container per system, plus the
application container that joins them and picks each port's adapter from settings.

Litestar owns request scope (the unit of work, later the current user); the containers
own configuration, singletons and the object graph. Tests override providers:
``container.identity.password_hasher.override(providers.Object(fake))``.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta

from dependency_injector import containers, providers
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.argon2.hasher import Argon2PasswordHasher
from adapters.console.email import ConsoleEchoEmailSender
from adapters.cronsim.cron import CronsimEvaluator
from adapters.httpx.webhooks import HttpxWebhookTransport
from adapters.limits.limiter import LimitsRateLimiter, memory_rate_limiter, redis_rate_limiter
from adapters.memory.identity import FastInsecurePasswordHasher
from adapters.pyotp.totp import PyotpTotpGenerator
from adapters.resend import ResendEmailSender
from adapters.saq import SaqJobStore
from adapters.sql.database import (
    create_engine,
    create_read_session_factory,
    create_session_factory,
)
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
from adapters.sql.notifications.outbox import SqlEmailOutbox
from adapters.sql.notifications.sms import SqlSmsOutbox
from adapters.sql.uow import SqlUnitOfWork
from adapters.sql.workflows.jobs import SqlJobStore, sql_job_store
from adapters.zxcvbn.policy import ZxcvbnPasswordPolicy
from core.identity import (
    IDENTITY_NOTIFICATIONS,
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
from core.kernel import Clock, IdGenerator, SystemClock
from core.notifications import EmailSender, NotificationCatalog
from core.workflows import (
    WORKFLOWS_NOTIFICATIONS,
    EventBus,
    JobMetrics,
    JobQueue,
    JobRegistry,
    JobRunner,
    JobStore,
    OutboxRelay,
    OutboxSession,
)
from entrypoints.settings import Settings
from entrypoints.webhooks import build_webhook_service, policy_from_settings


class KernelContainer(containers.DeclarativeContainer):
    """Time, ids and rate limits, shared by every system."""

    settings = providers.Dependency(instance_of=Settings)
    clock = providers.Singleton(SystemClock)
    ids = providers.Singleton(IdGenerator)
    # In-process counters by default; Redis when several processes must share them.
    rate_limiter = providers.Selector(
        settings.provided.rate_limit_storage,
        memory=providers.Singleton(memory_rate_limiter),
        redis=providers.Singleton(redis_rate_limiter, url=settings.provided.redis_url),
    )


class DatabaseContainer(containers.DeclarativeContainer):
    """The engine (one per process, shared by HTTP, worker and CLI) and sessions."""

    settings = providers.Dependency(instance_of=Settings)
    engine = providers.Singleton(
        create_engine,
        url=settings.provided.effective_database_url,
        pool_size=settings.provided.database_pool_size,
    )
    session_factory = providers.Singleton(create_session_factory, engine=engine)
    read_session_factory = providers.Singleton(create_read_session_factory, engine=engine)


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
    mailer_for: Callable[[AsyncSession], EmailSender],
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
        mailer=mailer_for(uow.session),
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
    mailer_for: Callable[[AsyncSession], EmailSender],
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
        mailer=mailer_for(uow.session),
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


def _email_sender(
    session: AsyncSession, outbox: Callable[..., EmailSender], echo: str
) -> EmailSender:
    stored = outbox(session=session)
    return ConsoleEchoEmailSender(stored) if echo == "development" else stored


class NotificationsContainer(containers.DeclarativeContainer):
    """Email through the port; the embedded default is the mail outbox in the database,
    echoed to the console in development."""

    settings = providers.Dependency(instance_of=Settings)
    kernel = providers.DependenciesContainer()

    outbox = providers.Factory(SqlEmailOutbox, clock=kernel.clock, ids=kernel.ids)
    # Takes the SQLAlchemy session of the unit of work the email belongs to.
    email_sender = providers.Factory(
        _email_sender, outbox=outbox.provider, echo=settings.provided.env
    )
    # The Resend adapter (adapters/resend), built only when NINEFOLD_EMAIL_PROVIDER=resend
    # (None otherwise). Mail still goes to the outbox above, the delivery record for every
    # provider; the delivery job that hands outbox rows to this sender comes next.
    resend_sender = providers.Selector(
        settings.provided.email_provider,
        resend=providers.Singleton(
            ResendEmailSender,
            api_key=settings.provided.resend_api_key,
            sender=settings.provided.email_from,
            base_url=settings.provided.resend_base_url,
        ),
        outbox=providers.Object(None),
    )
    # SMS: the outbox is the only adapter so far (docs/systems/notifications.md, "Adding
    # an SMS provider"). Takes the session of the unit of work: sms_sender(uow.session).
    sms_sender = providers.Factory(SqlSmsOutbox, clock=kernel.clock, ids=kernel.ids)
    # Every notification type the systems declare; preferences are checked against it.
    catalog = providers.Singleton(
        NotificationCatalog, types=[*IDENTITY_NOTIFICATIONS, *WORKFLOWS_NOTIFICATIONS]
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
        mailer_for=notifications.email_sender.provider,
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
        mailer_for=notifications.email_sender.provider,
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


def _sql_store_opener(
    session_factory: async_sessionmaker[AsyncSession],
) -> Callable[[], AbstractAsyncContextManager[JobStore]]:
    return lambda: sql_job_store(session_factory)


def _sql_store_in(session: OutboxSession) -> JobStore:
    """The SQL engine's store inside a unit of work's own transaction."""
    if not isinstance(session, SqlUnitOfWork):
        raise TypeError("the SQL job engine needs a SQL unit of work")
    return SqlJobStore(session.session)


def _saq_store_opener(store: SaqJobStore) -> Callable[[], AbstractAsyncContextManager[JobStore]]:
    """Every step uses the process's one SAQ store: each of its methods is atomic on its
    own, and it connects on first use."""

    @asynccontextmanager
    async def open_store() -> AsyncIterator[JobStore]:
        yield store

    return open_store


def _saq_store_in(store: SaqJobStore) -> Callable[[OutboxSession], JobStore]:
    """SAQ lives outside the database: the same store whatever the unit of work; its
    enqueues travel through the outbox (``store_in_transaction`` is false)."""
    return lambda _session: store


def _job_queue(
    *,
    uow: SqlUnitOfWork,
    store_in: Callable[[OutboxSession], JobStore],
    in_transaction: bool,
    clock: Clock,
    ids: IdGenerator,
    metrics: JobMetrics,
    wakeup: asyncio.Event,
    settings: Settings,
) -> JobQueue:
    return JobQueue(
        uow=uow,
        store=store_in(uow),
        store_in_transaction=in_transaction,
        clock=clock,
        ids=ids,
        on_enqueued=lambda request: metrics.count(request.queue, "enqueued"),
        wake=wakeup.set,
        queue_limits=settings.queue_limits,
    )


def _job_runner(
    *,
    settings: Settings,
    registry: JobRegistry,
    open_store: Callable[[], AbstractAsyncContextManager[JobStore]],
    clock: Clock,
    wakeup: asyncio.Event,
    metrics: JobMetrics,
    queues: tuple[str, ...] | None = None,
    concurrency: int | None = None,
) -> JobRunner:
    return JobRunner(
        registry=registry,
        open_store=open_store,
        clock=clock,
        queues=queues if queues is not None else settings.queues,
        concurrency=concurrency or settings.worker_concurrency,
        lease=timedelta(seconds=settings.jobs_lease_seconds),
        heartbeat_every=settings.jobs_lease_seconds / 3,
        wakeup=wakeup,
        metrics=metrics,
    )


class WorkflowsContainer(containers.DeclarativeContainer):
    """Jobs and event delivery: the job engine chosen by settings, the registry of
    handlers, the runner, the scheduler and the relay that turns events into jobs."""

    settings = providers.Dependency(instance_of=Settings)
    kernel = providers.DependenciesContainer()
    database = providers.DependenciesContainer()
    # Makes a unit of work with its outbox store: the application container passes its own.
    open_session: providers.Dependency[Callable[[], OutboxSession]] = providers.Dependency()
    wakeup = providers.Dependency(instance_of=asyncio.Event)

    event_bus = providers.Singleton(EventBus)
    registry = providers.Singleton(JobRegistry)
    metrics = providers.Singleton(JobMetrics)
    cron = providers.Singleton(CronsimEvaluator)
    # Set when jobs were enqueued in this process, so its runner looks at once.
    jobs_wakeup = providers.Singleton(asyncio.Event)

    # The engine. ``open_store`` opens one atomic step; ``store_in`` gives the store
    # inside a unit of work (the SQL engine joins its transaction).
    # SAQ's store: one per process, connected on first use, closed by close_container.
    saq_store = providers.Singleton(
        SaqJobStore, url=settings.provided.saq_url, prefix=settings.provided.saq_prefix
    )
    open_store = providers.Selector(
        settings.provided.jobs_backend,
        sql=providers.Singleton(_sql_store_opener, session_factory=database.session_factory),
        saq=providers.Singleton(_saq_store_opener, store=saq_store),
    )
    store_in = providers.Selector(
        settings.provided.jobs_backend,
        sql=providers.Object(_sql_store_in),
        saq=providers.Singleton(_saq_store_in, store=saq_store),
    )
    store_in_transaction = providers.Selector(
        settings.provided.jobs_backend,
        sql=providers.Object(True),
        saq=providers.Object(False),
    )

    # Takes the unit of work: enqueue jobs in its transaction.
    job_queue = providers.Factory(
        _job_queue,
        store_in=store_in,
        in_transaction=store_in_transaction,
        clock=kernel.clock,
        ids=kernel.ids,
        metrics=metrics,
        wakeup=jobs_wakeup,
        settings=settings,
    )
    job_runner = providers.Factory(
        _job_runner,
        settings=settings,
        registry=registry,
        open_store=open_store,
        clock=kernel.clock,
        wakeup=jobs_wakeup,
        metrics=metrics,
    )
    outbox_relay = providers.Singleton(
        OutboxRelay,
        bus=event_bus,
        open_session=open_session,
        jobs_for=store_in,
        clock=kernel.clock,
        ids=kernel.ids,
        wakeup=wakeup,
        on_jobs_added=jobs_wakeup.provided.set,
        queue_limits=settings.provided.queue_limits,
    )

    # Outbound webhooks (docs/systems/workflows.md): the rules from settings,
    # the HTTP transport (tests override it), and the use cases, which take the unit of
    # work. The delivery jobs are wired in ``entrypoints.webhooks``.
    webhook_policy = providers.Singleton(policy_from_settings, settings=settings)
    webhook_transport = providers.Singleton(
        HttpxWebhookTransport, allow_private=settings.provided.webhooks_private_urls_allowed
    )
    webhooks = providers.Factory(
        build_webhook_service,
        jobs_for=job_queue.provider,
        policy=webhook_policy,
        clock=kernel.clock,
        ids=kernel.ids,
    )


class ApplicationContainer(containers.DeclarativeContainer):
    """Everything the entrypoints need. Build it with ``build_container(settings)``."""

    settings = providers.Dependency(instance_of=Settings)
    kernel = providers.Container(KernelContainer, settings=settings)
    database = providers.Container(DatabaseContainer, settings=settings)

    # Set after a commit that stored events, so the relay delivers them at once.
    outbox_wakeup = providers.Singleton(asyncio.Event)
    # One transaction per request or job; every system's use cases share it.
    unit_of_work = providers.Factory(
        SqlUnitOfWork,
        session_factory=database.session_factory,
        clock=kernel.clock,
        ids=kernel.ids,
        on_events_committed=outbox_wakeup.provided.set,
    )

    workflows = providers.Container(
        WorkflowsContainer,
        settings=settings,
        kernel=kernel,
        database=database,
        open_session=unit_of_work.provider,
        wakeup=outbox_wakeup,
    )
    notifications = providers.Container(NotificationsContainer, settings=settings, kernel=kernel)
    identity = providers.Container(
        IdentityContainer, settings=settings, kernel=kernel, notifications=notifications
    )


def build_container(settings: Settings) -> ApplicationContainer:
    return ApplicationContainer(settings=settings)


async def close_container(container: ApplicationContainer) -> None:
    """Release what the container opened (the database pool)."""
    # Creating an engine or a limiter opens no connection, so asking for them here
    # costs nothing.
    await container.database.engine().dispose()
    container.database.engine.reset()  # type: ignore[attr-defined]
    limiter = container.kernel.rate_limiter()
    if isinstance(limiter, LimitsRateLimiter):
        await limiter.close()
    settings = container.settings()
    if settings.jobs_backend == "saq" and settings.saq_url:
        await container.workflows.saq_store().close()
