"""The SQL data request store passes the conformance suite, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.sql.safety.data import SqlDataRequestStore
from contracts.ports.data_requests import DataRequestStoreContract
from entrypoints.containers import ApplicationContainer


class TestSqlDataRequestStore(DataRequestStoreContract):
    @pytest.fixture
    async def data_requests(
        self, container: ApplicationContainer
    ) -> AsyncIterator[SqlDataRequestStore]:
        async with container.unit_of_work() as uow:
            yield SqlDataRequestStore(uow.session)
