"""The SQL webhook repositories pass the storage suite, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.sql.workflows.webhooks import SqlWebhookDeliveryLog, SqlWebhookEndpointRepository
from contracts.ports.webhooks import Storage, WebhookStorageContract
from entrypoints.containers import ApplicationContainer


class TestSqlWebhookStorage(WebhookStorageContract):
    @pytest.fixture
    async def webhook_storage(self, container: ApplicationContainer) -> AsyncIterator[Storage]:
        async with container.unit_of_work() as uow:
            yield SqlWebhookEndpointRepository(uow.session), SqlWebhookDeliveryLog(uow.session)
