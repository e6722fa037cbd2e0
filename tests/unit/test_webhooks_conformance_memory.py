"""The in-memory fakes of outbound webhooks pass the same suites as the real adapters."""

from __future__ import annotations

import pytest

from adapters.memory.webhooks import (
    InMemoryWebhookDeliveryLog,
    InMemoryWebhookEndpointRepository,
)
from contracts.ports.webhooks import Storage, WebhookStorageContract


class TestInMemoryWebhookStorage(WebhookStorageContract):
    @pytest.fixture
    def webhook_storage(self) -> Storage:
        return InMemoryWebhookEndpointRepository(), InMemoryWebhookDeliveryLog()
