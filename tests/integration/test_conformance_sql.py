"""The SQL adapters pass the conformance suites, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from adapters.sql.identity.repositories import (
    SqlApiKeyRepository,
    SqlInvitationRepository,
    SqlSessionRepository,
    SqlTeamRepository,
    SqlUserRepository,
    SqlWorkspaceRepository,
)
from adapters.sql.notifications.outbox import SqlEmailOutbox, list_emails
from adapters.sql.uow import SqlUnitOfWork
from contracts.ports.email import EmailSenderContract, SentEmails
from contracts.ports.identity import (
    ApiKeyRepositoryContract,
    IdentityRepositoriesContract,
    InvitationRepositoryContract,
    Repositories,
    SessionRepositoryContract,
    TeamRepositoryContract,
)
from contracts.ports.outbox import OutboxContract
from core.notifications import EmailMessage
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


class TestSqlEmailOutbox(EmailSenderContract):
    @pytest.fixture
    async def outbox_session(self, container: ApplicationContainer) -> AsyncIterator[SqlUnitOfWork]:
        async with container.unit_of_work() as uow:
            yield uow

    @pytest.fixture
    def email_sender(
        self, outbox_session: SqlUnitOfWork, container: ApplicationContainer
    ) -> SqlEmailOutbox:
        return SqlEmailOutbox(
            outbox_session.session, container.kernel.clock(), container.kernel.ids()
        )

    @pytest.fixture
    def sent_emails(self, outbox_session: SqlUnitOfWork) -> SentEmails:
        async def sent() -> list[EmailMessage]:
            stored = await list_emails(outbox_session.session, limit=1000)
            return [email.message for email in reversed(stored)]

        return sent


class TestSqlInvitationRepository(InvitationRepositoryContract):
    @pytest.fixture
    async def invitation_repositories(
        self, container: ApplicationContainer
    ) -> AsyncIterator[tuple[SqlWorkspaceRepository, SqlInvitationRepository]]:
        async with container.unit_of_work() as uow:
            yield SqlWorkspaceRepository(uow.session), SqlInvitationRepository(uow.session)


class TestSqlTeamRepository(TeamRepositoryContract):
    @pytest.fixture
    async def team_repositories(
        self, container: ApplicationContainer
    ) -> AsyncIterator[tuple[SqlUserRepository, SqlWorkspaceRepository, SqlTeamRepository]]:
        async with container.unit_of_work() as uow:
            yield (
                SqlUserRepository(uow.session),
                SqlWorkspaceRepository(uow.session),
                SqlTeamRepository(uow.session),
            )


class TestSqlApiKeyRepository(ApiKeyRepositoryContract):
    @pytest.fixture
    async def api_key_repositories(
        self, container: ApplicationContainer
    ) -> AsyncIterator[tuple[SqlWorkspaceRepository, SqlApiKeyRepository]]:
        async with container.unit_of_work() as uow:
            yield SqlWorkspaceRepository(uow.session), SqlApiKeyRepository(uow.session)
