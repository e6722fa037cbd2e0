"""The notifications system's wiring."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from dependency_injector import containers, providers
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.console.email import ConsoleEchoEmailSender
from adapters.jinja import JinjaTemplateRenderer
from adapters.resend import ResendEmailSender
from adapters.sql.notifications.deliveries import SqlDeliveryStore, SqlSuppressionList
from adapters.sql.notifications.inbox import SqlInboxStore
from adapters.sql.notifications.outbox import SqlEmailOutbox
from adapters.sql.notifications.preferences import SqlPreferenceStore
from adapters.sql.notifications.sms import SqlSmsOutbox
from adapters.sql.uow import SqlUnitOfWork
from core.billing.notifications import BILLING_NOTIFICATIONS
from core.identity import IDENTITY_NOTIFICATIONS
from core.kernel import Clock, IdGenerator
from core.notifications import (
    EmailSender,
    NotificationCatalog,
    NotificationService,
    PreferenceService,
    SmsSender,
    TemplateRenderer,
    UnsubscribeTokens,
)
from core.safety.breaker_registry import BreakerRegistry
from core.safety.data_notifications import DATA_NOTIFICATIONS
from core.workflows import WORKFLOWS_NOTIFICATIONS, JobQueue
from entrypoints.notifications import JobDeliveryQueue
from entrypoints.safety.guarded import guard_email
from entrypoints.settings import Settings


def _email_sender(
    session: AsyncSession, outbox: Callable[..., EmailSender], echo: str
) -> EmailSender:
    stored = outbox(session=session)
    return ConsoleEchoEmailSender(stored) if echo == "development" else stored


def _notification_service(
    *,
    uow: SqlUnitOfWork,
    catalog: NotificationCatalog,
    renderer: TemplateRenderer,
    unsubscribe: UnsubscribeTokens,
    email_sender_for: Callable[..., EmailSender],
    sms_sender_for: Callable[..., SmsSender],
    job_queue_for: Callable[..., JobQueue],
    clock: Clock,
    ids: IdGenerator,
    settings: Settings,
) -> NotificationService:
    session = uow.session
    return NotificationService(
        catalog=catalog,
        renderer=renderer,
        preferences=SqlPreferenceStore(session, clock=clock),
        deliveries=SqlDeliveryStore(session),
        suppressions=SqlSuppressionList(session),
        inbox=SqlInboxStore(session),
        email=email_sender_for(session=session),
        sms=sms_sender_for(session),
        queue=JobDeliveryQueue(job_queue_for(uow=uow)),
        unsubscribe=unsubscribe,
        clock=clock,
        ids=ids,
        public_url=settings.effective_public_url,
        app_name=settings.app_name,
    )


def _unsubscribe_tokens(settings: Settings) -> UnsubscribeTokens:
    # Production requires NINEFOLD_SECRET_KEY; development keeps a generated one in
    # data_dir. Settings built by hand (tests) may have none: links then last a process.
    return UnsubscribeTokens(settings.secret_key or secrets.token_urlsafe(32))


def _preference_service(
    *, session: AsyncSession, catalog: NotificationCatalog, clock: Clock
) -> PreferenceService:
    return PreferenceService(store=SqlPreferenceStore(session, clock=clock), catalog=catalog)


class NotificationsContainer(containers.DeclarativeContainer):
    """Notifications: the use case other systems call (``notifier(uow=uow)``), the
    catalog of types, the template renderer, and each channel's adapters. The embedded
    default keeps email and SMS in outboxes in the database (echoed to the console in
    development); ``NINEFOLD_EMAIL_PROVIDER=resend`` hands email to Resend."""

    settings = providers.Dependency(instance_of=Settings)
    kernel = providers.DependenciesContainer()
    workflows = providers.DependenciesContainer()

    outbox = providers.Factory(SqlEmailOutbox, clock=kernel.clock, ids=kernel.ids)
    # Takes the SQLAlchemy session of the unit of work the email belongs to.
    email_sender = providers.Factory(
        _email_sender, outbox=outbox.provider, echo=settings.provided.env
    )
    # Who the delivery job hands email to: Resend (adapters/resend) when
    # NINEFOLD_EMAIL_PROVIDER=resend; None with the outbox, where mail stays.
    # Behind the "email" circuit breaker of this process (entrypoints/safety/guarded.py).
    breakers = providers.Dependency(instance_of=BreakerRegistry)
    email_transport = providers.Singleton(
        guard_email,
        transport=providers.Selector(
            settings.provided.email_provider,
            resend=providers.Singleton(
                ResendEmailSender,
                api_key=settings.provided.resend_api_key,
                sender=settings.provided.email_from,
                base_url=settings.provided.resend_base_url,
            ),
            outbox=providers.Object(None),
        ),
        breakers=breakers,
    )
    # SMS: the outbox is the only adapter so far (docs/systems/notifications.md, "Adding
    # an SMS provider"). Takes the session of the unit of work: sms_sender(uow.session).
    sms_sender = providers.Factory(SqlSmsOutbox, clock=kernel.clock, ids=kernel.ids)
    # Every notification type the systems declare; preferences are checked against it.
    catalog = providers.Singleton(
        NotificationCatalog,
        types=[
            *IDENTITY_NOTIFICATIONS,
            *WORKFLOWS_NOTIFICATIONS,
            *BILLING_NOTIFICATIONS,
            *DATA_NOTIFICATIONS,
        ],
    )
    # Strict (a missing template variable fails the send) everywhere but production.
    renderer = providers.Singleton(JinjaTemplateRenderer, strict=settings.provided.templates_strict)
    unsubscribe_tokens = providers.Singleton(_unsubscribe_tokens, settings=settings)
    notifier = providers.Factory(
        _notification_service,
        catalog=catalog,
        renderer=renderer,
        unsubscribe=unsubscribe_tokens,
        email_sender_for=email_sender.provider,
        sms_sender_for=sms_sender.provider,
        job_queue_for=workflows.job_queue.provider,
        clock=kernel.clock,
        ids=kernel.ids,
        settings=settings,
    )
    preferences = providers.Factory(_preference_service, catalog=catalog, clock=kernel.clock)
