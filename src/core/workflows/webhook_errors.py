"""Errors of outbound webhooks, each with a stable problem type."""

from __future__ import annotations

from core.kernel import ConflictError, NotFoundError, ValidationError


class WebhookEndpointNotFoundError(NotFoundError):
    type = "workflows/webhook-endpoint-not-found"
    title = "There is no such webhook endpoint."


class WebhookDeliveryNotFoundError(NotFoundError):
    type = "workflows/webhook-delivery-not-found"
    title = "There is no such webhook delivery."


class InvalidWebhookUrlError(ValidationError):
    type = "workflows/invalid-webhook-url"
    title = "The webhook URL is not allowed."


class InvalidWebhookEventsError(ValidationError):
    type = "workflows/invalid-webhook-events"
    title = "The event filter names events that do not exist."


class InvalidWebhookEndpointError(ValidationError):
    type = "workflows/invalid-webhook-endpoint"
    title = "The webhook endpoint is not valid."


class WebhookEndpointLimitError(ConflictError):
    type = "workflows/webhook-endpoint-limit"
    title = "The workspace has as many webhook endpoints as it may have."


class WebhookEndpointDisabledError(ConflictError):
    type = "workflows/webhook-endpoint-disabled"
    title = "The webhook endpoint is disabled; enable it first."


class WebhookTransportError(Exception):
    """A delivery attempt got no HTTP answer: a timeout, a refused or failed connection,
    a TLS error, or an address the transport will not call. ``kind`` says which
    (``timeout``, ``connect``, ``blocked``, ``protocol``)."""

    def __init__(self, kind: str, message: str, *, latency_ms: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.latency_ms = latency_ms
