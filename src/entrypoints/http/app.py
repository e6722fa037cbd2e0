"""The Litestar application factory."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.types import ControllerRouterHandler

from adapters.sql.migrations.runner import script_heads
from entrypoints.containers import ApplicationContainer, close_container
from entrypoints.http.billing.admin import BillingAdminController
from entrypoints.http.billing.plans import PlansController
from entrypoints.http.billing.sandbox import SandboxCheckoutController
from entrypoints.http.billing.subscription import BillingController
from entrypoints.http.billing.usage import UsageController
from entrypoints.http.billing.webhooks import BillingWebhooksController
from entrypoints.http.client import parse_networks
from entrypoints.http.context import RequestContext
from entrypoints.http.dependencies import provide_uow
from entrypoints.http.health import HealthController
from entrypoints.http.identity.admin import AdminController
from entrypoints.http.identity.api_keys import ApiKeysController
from entrypoints.http.identity.invitations import (
    InvitationAcceptController,
    InvitationsController,
)
from entrypoints.http.identity.routes import AuthController, MeController, TwoFactorController
from entrypoints.http.identity.teams import TeamsController
from entrypoints.http.identity.workspaces import WorkspacesController
from entrypoints.http.notifications.admin import NotificationsAdminController
from entrypoints.http.notifications.me import MyNotificationsController
from entrypoints.http.notifications.stream import InboxFollower
from entrypoints.http.notifications.unsubscribe import UnsubscribeController
from entrypoints.http.notifications.webhooks import EmailWebhooksController
from entrypoints.http.principal_cache import PrincipalCache
from entrypoints.http.problems import exception_handlers
from entrypoints.http.safety.audit import AuditAdminController, WorkspaceAuditController
from entrypoints.http.safety.breakers import BreakersController
from entrypoints.http.safety.data import (
    DataAdminController,
    ExportDownloadController,
    MyDataController,
    WorkspaceDataController,
)
from entrypoints.http.safety.flags import FlagsAdminController, FlagsController
from entrypoints.http.safety.impersonation import (
    ImpersonationController,
    ImpersonationLayer,
    ImpersonationsAdminController,
)
from entrypoints.http.safety.kill_switches import KillSwitchesController, kill_switch_guard
from entrypoints.http.workflows.admin import JobsAdminController
from entrypoints.http.workflows.webhooks import WebhooksController
from entrypoints.safety.runtime import SafetyRuntime
from entrypoints.settings import Settings
from entrypoints.worker import Worker

API_VERSION = "0.1.0"
QUIET_PATHS = ("/health/live", "/health/ready")


def openapi_config() -> OpenAPIConfig:
    # JSON only: Litestar's viewer pages load their assets from public CDNs, which the
    # app's CSP (rightly) blocks. The document is served at /schema/openapi.json and
    # kept in contracts/openapi.json; point any viewer at either.
    return OpenAPIConfig(
        title="ninefold",
        version=API_VERSION,
        description="The ninefold API. Errors are RFC 9457 problem details.",
        path="/schema",
        render_plugins=[JsonRenderPlugin()],
        components=Components(
            security_schemes={
                "bearer": SecurityScheme(type="http", scheme="bearer"),
                "apiKey": SecurityScheme(
                    type="apiKey", name="X-API-Key", security_scheme_in="header"
                ),
            }
        ),
    )


def route_handlers() -> list[ControllerRouterHandler]:
    """Every system's routes; a system's removal deletes its line here."""
    return [
        HealthController,
        AuthController,
        MeController,
        TwoFactorController,
        WorkspacesController,
        InvitationsController,
        InvitationAcceptController,
        TeamsController,
        ApiKeysController,
        AdminController,
        JobsAdminController,
        NotificationsAdminController,
        WebhooksController,
        MyNotificationsController,
        UnsubscribeController,
        EmailWebhooksController,
        PlansController,
        BillingController,
        UsageController,
        BillingWebhooksController,
        BillingAdminController,
        SandboxCheckoutController,
        FlagsAdminController,
        FlagsController,
        KillSwitchesController,
        BreakersController,
        MyDataController,
        WorkspaceDataController,
        ExportDownloadController,
        DataAdminController,
        AuditAdminController,
        WorkspaceAuditController,
        ImpersonationsAdminController,
        ImpersonationController,
    ]


def create_app(
    container: ApplicationContainer,
    *,
    extra_route_handlers: Sequence[ControllerRouterHandler] = (),
    run_worker: bool | None = None,
) -> Litestar:
    settings: Settings = container.settings()
    worker = Worker(container)
    safety = SafetyRuntime(container)
    inbox_follower = InboxFollower(
        open_uow=container.unit_of_work,
        clock=container.kernel.clock(),
        poll_seconds=settings.notifications_stream_poll_seconds,
    )
    start_worker = settings.run_worker if run_worker is None else run_worker

    async def on_startup(app: Litestar) -> None:
        app.state.migration_heads = frozenset(script_heads())
        # The sign-in check for unknown emails needs one argon2 hash: make it now, off
        # the event loop, not inside the first sign-in request.
        await asyncio.to_thread(container.identity.dummy_hash)
        await safety.start()
        if start_worker:
            worker.start()

    async def on_shutdown(app: Litestar) -> None:
        await inbox_follower.close()
        await worker.stop()
        await safety.stop()
        await close_container(container)

    app = Litestar(
        route_handlers=[*route_handlers(), *extra_route_handlers],
        guards=[kill_switch_guard],
        dependencies={"uow": Provide(provide_uow)},
        exception_handlers=exception_handlers(show_details=settings.env == "development"),
        on_startup=[on_startup],
        on_shutdown=[on_shutdown],
        openapi_config=openapi_config(),
        request_max_body_size=settings.max_body_bytes,
        cors_config=CORSConfig(allow_origins=settings.cors_origins, allow_credentials=True)
        if settings.cors_origins
        else None,
        state=State(
            {
                "container": container,
                "principal_cache": PrincipalCache(settings.session_cache_seconds),
                "trusted_proxies": parse_networks(settings.trusted_proxies),
                "inbox_follower": inbox_follower,
            }
        ),
        debug=False,
        logging_config=None,
    )
    # Around every response, 404s included: impersonation sessions are marked, refused
    # the staff endpoints and recorded (safety/impersonation.py).
    app.asgi_handler = ImpersonationLayer(app.asgi_handler, container)
    # Outermost layer, around Litestar's exception handling, as Litestar does for CORS:
    # so request ids and security headers reach 404/405/413/500 responses too.
    app.asgi_handler = RequestContext(
        app.asgi_handler,
        production=settings.is_production,
        allowed_hosts=settings.allowed_hosts,
        quiet_paths=QUIET_PATHS,
    )
    return app


def openapi_document(app: Litestar) -> dict[str, Any]:
    return app.openapi_schema.to_schema()
