"""The SQL adapters pass the conformance suites, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from adapters.sql.identity.repositories import (
    SqlSessionRepository,
    SqlUserRepository,
    SqlWorkspaceRepository,
)
from adapters.sql.uow import SqlUnitOfWork
from contracts.ports.identity import (
    IdentityRepositoriesContract,
    Repositories,
    SessionRepositoryContract,
)
from contracts.ports.outbox import OutboxContract
from entrypoints.containers import ApplicationContainer


class TestSqlOutbox(OutboxContract):
    @pytest.fixture
    def open_session(self, container: ApplicationContainer) -> Callable[[], SqlUnitOfWork]:
        return container.unit_of_work


class TestSqlIdentityRepositories(IdentityRepositoriesContract):
    @pytest.fixture
    async def identity_repositories(
        self, container: ApplicationContainer
    ) -> AsyncIterator[Repositories]:
        async with container.unit_of_work() as uow:
            yield SqlUserRepository(uow.session), SqlWorkspaceRepository(uow.session)


class TestSqlSessionRepository(SessionRepositoryContract):
    @pytest.fixture
    async def session_repositories(
        self, container: ApplicationContainer
    ) -> AsyncIterator[tuple[SqlUserRepository, SqlSessionRepository]]:
        async with container.unit_of_work() as uow:
            yield SqlUserRepository(uow.session), SqlSessionRepository(uow.session)
