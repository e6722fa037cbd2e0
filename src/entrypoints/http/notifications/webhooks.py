"""Email providers' delivery webhooks: ``POST /webhooks/email/{provider}``.

The body is verified with the provider's signature scheme (Svix for Resend) before
anything is kept; a bad, stale or replayed signature answers 400 and stores nothing. A
verified report is stored once per provider event id and a job applies it, so the
answer is fast and a provider's retry of the same report is acknowledged and ignored.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, post
from litestar.datastructures import State

from adapters.resend import ResendWebhookVerifier
from core.kernel import NotFoundError
from entrypoints.http.dependencies import container_of
from entrypoints.notifications import receive_provider_event


class EmailWebhookNotConfiguredError(NotFoundError):
    type = "notifications/email-webhook-not-configured"
    title = "This email provider's webhooks are not configured."


class WebhookReceived(msgspec.Struct):
    received: bool
    duplicate: bool


class EmailWebhooksController(Controller):
    path = "/webhooks/email"
    tags = ["webhooks"]

    @post(
        "/resend",
        summary="Resend's delivery reports (Svix-signed)",
        status_code=200,
    )
    async def resend(self, request: Request[Any, Any, Any], state: State) -> WebhookReceived:
        container = container_of(state)
        settings = container.settings()
        if settings.email_provider != "resend" or not settings.resend_webhook_secret:
            raise EmailWebhookNotConfiguredError(
                "set NINEFOLD_EMAIL_PROVIDER=resend and NINEFOLD_RESEND_WEBHOOK_SECRET "
                "to receive Resend's webhooks"
            )
        body = await request.body()
        verifier = ResendWebhookVerifier(settings.resend_webhook_secret)
        event = verifier.parse(dict(request.headers), body, container.kernel.clock().now())
        recorded = await receive_provider_event(container, event, body)
        return WebhookReceived(received=True, duplicate=not recorded)
