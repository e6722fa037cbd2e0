"""The in-memory notification stores pass the same conformance suites as the SQL ones."""

from __future__ import annotations

import pytest

from adapters.memory.deliveries import (
    InMemoryDeliveryStore,
    InMemoryOutboxReader,
    InMemoryProviderEventLog,
    InMemorySuppressionList,
)
from adapters.memory.inbox import InMemoryInboxStore
from adapters.memory.notifications import InMemoryEmailSender
from adapters.memory.preferences import InMemoryPreferenceStore
from adapters.memory.sms import InMemorySmsSender
from contracts.ports.deliveries import (
    DeliveryStoreContract,
    OutboxReaderContract,
    OutboxStatus,
    ProviderEventLogContract,
    SuppressionListContract,
)
from contracts.ports.inbox import InboxStoreContract
from contracts.ports.preferences import PreferenceStoreContract
from core.notifications import Channel


class TestInMemoryDeliveryStore(DeliveryStoreContract):
    @pytest.fixture
    def delivery_store(self) -> InMemoryDeliveryStore:
        return InMemoryDeliveryStore()


class TestInMemorySuppressionList(SuppressionListContract):
    @pytest.fixture
    def suppression_list(self) -> InMemorySuppressionList:
        return InMemorySuppressionList()


class TestInMemoryProviderEventLog(ProviderEventLogContract):
    @pytest.fixture
    def provider_event_log(self) -> InMemoryProviderEventLog:
        return InMemoryProviderEventLog()


class TestInMemoryOutboxReader(OutboxReaderContract):
    @pytest.fixture
    def outbox_reader(self) -> InMemoryOutboxReader:
        return InMemoryOutboxReader(InMemoryEmailSender(), InMemorySmsSender())

    @pytest.fixture
    def email_sender(self, outbox_reader: InMemoryOutboxReader) -> InMemoryEmailSender:
        return outbox_reader.emails

    @pytest.fixture
    def sms_sender(self, outbox_reader: InMemoryOutboxReader) -> InMemorySmsSender:
        return outbox_reader.sms_sender

    @pytest.fixture
    def outbox_status(self, outbox_reader: InMemoryOutboxReader) -> OutboxStatus:
        async def status(channel: Channel, key: str) -> str | None:
            found = outbox_reader.status(channel, key)
            return None if found is None else found.value

        return status


class TestInMemoryInboxStore(InboxStoreContract):
    @pytest.fixture
    def inbox_store(self) -> InMemoryInboxStore:
        return InMemoryInboxStore()


class TestInMemoryPreferenceStore(PreferenceStoreContract):
    @pytest.fixture
    def preference_store(self) -> InMemoryPreferenceStore:
        return InMemoryPreferenceStore()
