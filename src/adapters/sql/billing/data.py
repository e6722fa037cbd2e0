"""Billing's part of data export and erasure, on billing's own tables.

Billing's records belong to workspaces. A person appears in them as the actor of a
ledger transaction (a purchase, a staff grant) and as the billing contact whose email
went to the payment provider (the sandbox's customers, and inside stored provider
webhooks). The ledger and the invoices are kept, whatever is erased: accounting law
and the ledger's own balance need them; the person's id and email in them become the
pseudonym. A purged workspace's operational rows (subscriptions, usage, alerts, the
provider mappings) are deleted; its ledger and invoices stay under its opaque id.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, Table, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.billing.ledger_tables import (
    credit_balances,
    credit_grants,
    ledger_entries,
    ledger_transactions,
)
from adapters.sql.billing.store_tables import (
    alerts,
    customers,
    invoices,
    subscriptions,
    usage_reports,
)
from adapters.sql.billing.tables import metadata
from adapters.sql.billing.usage_tables import usage_events, usage_hourly
from adapters.sql.data_subject import records, sweep
from core.safety.data import DataSubject, Pseudonym, Records

# Deleted with a purged workspace; the ledger, grants, balances and invoices stay.
WORKSPACE_OPERATIONAL = (
    subscriptions,
    customers,
    alerts,
    usage_reports,
    usage_hourly,
    usage_events,
)


class SqlBillingDataPart:
    name = "billing"

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def export_user(self, user_id: str) -> Records:
        return {
            "ledger_transactions": await records(
                self._session,
                select(ledger_transactions).where(ledger_transactions.c.actor_id == user_id),
            )
        }

    async def export_workspace(self, workspace_id: str) -> Records:
        session = self._session

        def of(table: Table) -> Select[Any]:
            return select(table).where(table.c.workspace_id == workspace_id)

        return {
            "subscriptions": await records(session, of(subscriptions)),
            "invoices": await records(session, of(invoices)),
            "ledger_transactions": await records(session, of(ledger_transactions)),
            "ledger_entries": await records(session, of(ledger_entries)),
            "credit_grants": await records(session, of(credit_grants)),
            "credit_balance": await records(session, of(credit_balances)),
            "usage_events": await records(session, of(usage_events)),
        }

    async def erase_user(self, subject: DataSubject, pseudonym: Pseudonym) -> None:
        # The ledger's actor ids, the reasons and bodies naming them, the provider's
        # copy of their email (the sandbox's customers, stored webhooks): pseudonymized.
        await sweep(self._session, metadata, pseudonym.replacements(subject))

    async def erase_workspace(self, workspace_id: str) -> None:
        for table in WORKSPACE_OPERATIONAL:
            await self._session.execute(delete(table).where(table.c.workspace_id == workspace_id))
        # The provider's stored webhooks stay: their event ids keep redeliveries out.
