"""Data export and deletion's wiring, used by the safety container: every system's part
(``DataSubjectPart``) on one unit of work, the archives' folder, and the service.

A fork that adds a system with tables adds its part to ``data_parts``; the erasure test
(tests/integration/test_data_erasure.py) then scans its tables too.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from adapters.files.archives import LocalArchiveStore
from adapters.sql.billing.data import SqlBillingDataPart
from adapters.sql.identity.data import SqlIdentityDataPart
from adapters.sql.notifications.data import SqlNotificationsDataPart
from adapters.sql.safety.audit import SqlAuditStore
from adapters.sql.safety.audit_tables import audit_entries, audit_head
from adapters.sql.safety.data import SqlDataRequestStore, SqlSafetyDataPart
from adapters.sql.uow import SqlUnitOfWork
from adapters.sql.workflows.data import SqlWorkflowsDataPart
from core.kernel import Clock, IdGenerator
from core.notifications import Notifier
from core.safety.data import DataSubjectPart
from core.safety.data_service import DataService
from entrypoints.settings import Settings

EXPORTS_FOLDER = "exports"


def data_parts(session: AsyncSession, ids: IdGenerator, clock: Clock) -> list[DataSubjectPart]:
    """Every system's part, in the order erasure runs them (identity first: the
    account goes before its traces are pseudonymized; safety last)."""
    return [
        SqlIdentityDataPart(session),
        SqlBillingDataPart(session),
        SqlNotificationsDataPart(session),
        SqlWorkflowsDataPart(session),
        SqlSafetyDataPart(
            session,
            now=clock.now(),
            audit=SqlAuditStore(session, ids),
            audit_tables=(audit_entries.name, audit_head.name),
        ),
    ]


def local_archives(settings: Settings) -> LocalArchiveStore:
    return LocalArchiveStore(settings.data_path / EXPORTS_FOLDER)


def make_data_service(
    *,
    uow: SqlUnitOfWork,
    settings: Settings,
    clock: Clock,
    ids: IdGenerator,
    archives: LocalArchiveStore,
    notifier: Notifier | None = None,
) -> DataService:
    """The service on ``uow``; pass ``notifier`` (notifications' on the same unit of
    work) for the emails it sends: ``entrypoints.safety.data_jobs.data_service``."""
    session = uow.session
    return DataService(
        uow=uow,
        requests=SqlDataRequestStore(session),
        parts=data_parts(session, ids, clock),
        directory=SqlIdentityDataPart(session),
        archives=archives,
        clock=clock,
        ids=ids,
        link_lifetime=timedelta(hours=settings.data_export_link_hours),
        account_grace=timedelta(days=settings.account_deletion_grace_days),
        notifier=notifier,
        public_url=settings.effective_public_url,
    )
