"""Payment providers' webhooks: ``POST /webhooks/billing/{provider}`` for ``sandbox``,
``stripe`` and ``dodo`` (the one the deployment selects; another answers 404).

The body is verified with the provider's own scheme before anything is kept (Stripe's
``Stripe-Signature``; Standard Webhooks for Dodo and the sandbox): a bad, stale or
replayed signature answers 400 ``billing/invalid-webhook-signature`` and stores nothing.
A verified event is stored once under the provider's event id and applied by a job, so
the answer is fast; a redelivery answers 200 with ``duplicate: true`` and does nothing.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, post
from litestar.datastructures import State
from litestar.params import FromPath

from entrypoints.billing.ingest import receive_billing_webhook
from entrypoints.http.billing.schemas import WebhookReceivedOut
from entrypoints.http.dependencies import container_of


class BillingWebhooksController(Controller):
    path = "/webhooks/billing"
    tags = ["webhooks"]

    @post(
        "/{provider:str}",
        summary="A payment provider's event (signed with the provider's scheme)",
        status_code=200,
    )
    async def receive(
        self, request: Request[Any, Any, Any], state: State, provider: FromPath[str]
    ) -> WebhookReceivedOut:
        body = await request.body()
        recorded = await receive_billing_webhook(
            container_of(state), provider, dict(request.headers), body
        )
        return WebhookReceivedOut(received=True, duplicate=not recorded)
