"""The in-memory fakes pass the same conformance suites as the real adapters."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from adapters.memory.identity import (
    FastInsecurePasswordHasher,
    InMemoryApiKeyRepository,
    InMemoryInvitationRepository,
    InMemorySessionRepository,
    InMemoryTeamRepository,
    InMemoryUserRepository,
    InMemoryWorkspaceRepository,
)
from adapters.memory.notifications import InMemoryEmailSender
from adapters.memory.uow import InMemoryOutbox, InMemoryUnitOfWork
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
from contracts.ports.password_hasher import PasswordHasherContract
from core.kernel import FixedClock, IdGenerator
from core.notifications import EmailMessage


class TestInMemoryOutbox(OutboxContract):
    @pytest.fixture
    def open_session(self, clock: FixedClock) -> Callable[[], InMemoryUnitOfWork]:
        outbox, ids = InMemoryOutbox(), IdGenerator()
        return lambda: InMemoryUnitOfWork(outbox, clock, ids)


class TestInMemoryIdentityRepositories(IdentityRepositoriesContract):
    @pytest.fixture
    def identity_repositories(self) -> Repositories:
        return InMemoryUserRepository(), InMemoryWorkspaceRepository()


class TestFastInsecurePasswordHasher(PasswordHasherContract):
    @pytest.fixture
    def password_hasher(self) -> FastInsecurePasswordHasher:
        return FastInsecurePasswordHasher()


class TestInMemorySessionRepository(SessionRepositoryContract):
    @pytest.fixture
    def session_repositories(self) -> tuple[InMemoryUserRepository, InMemorySessionRepository]:
        users = InMemoryUserRepository()
        return users, InMemorySessionRepository(users)


class TestInMemoryEmailSender(EmailSenderContract):
    @pytest.fixture
    def email_sender(self) -> InMemoryEmailSender:
        return InMemoryEmailSender()

    @pytest.fixture
    def sent_emails(self, email_sender: InMemoryEmailSender) -> SentEmails:
        async def sent() -> list[EmailMessage]:
            return list(email_sender.sent)

        return sent


class TestInMemoryInvitationRepository(InvitationRepositoryContract):
    @pytest.fixture
    def invitation_repositories(
        self,
    ) -> tuple[InMemoryWorkspaceRepository, InMemoryInvitationRepository]:
        return InMemoryWorkspaceRepository(), InMemoryInvitationRepository()


class TestInMemoryTeamRepository(TeamRepositoryContract):
    @pytest.fixture
    def team_repositories(
        self,
    ) -> tuple[InMemoryUserRepository, InMemoryWorkspaceRepository, InMemoryTeamRepository]:
        return InMemoryUserRepository(), InMemoryWorkspaceRepository(), InMemoryTeamRepository()


class TestInMemoryApiKeyRepository(ApiKeyRepositoryContract):
    @pytest.fixture
    def api_key_repositories(
        self,
    ) -> tuple[InMemoryWorkspaceRepository, InMemoryApiKeyRepository]:
        return InMemoryWorkspaceRepository(), InMemoryApiKeyRepository()
