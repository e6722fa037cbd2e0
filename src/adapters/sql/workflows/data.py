"""Workflows' part of data export and erasure, on workflows' own tables.

Workflows holds no one's data of its own: a person appears in copies (the outbox's
event payloads, jobs' payloads and errors, the bodies of webhook deliveries to a
workspace's endpoints). Erasing a person pseudonymizes their id and email in every one
of those copies, so pending work still runs (on the pseudonym). A workspace's webhook
endpoints and delivery log are its own: exported with it, and deleted when it is
purged (as ``WebhookDeliverer.purge_workspace`` does; done again here, idempotently).
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.data_subject import records, scrub, sweep
from adapters.sql.workflows.tables import (
    jobs,
    metadata,
    outbox,
    webhook_deliveries,
    webhook_endpoints,
)
from core.safety.data import DataSubject, Pseudonym, Records


class SqlWorkflowsDataPart:
    name = "workflows"

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def export_user(self, user_id: str) -> Records:
        return {}

    async def export_workspace(self, workspace_id: str) -> Records:
        endpoints = select(
            *(c for c in webhook_endpoints.columns if c.name not in ("secret", "previous_secret"))
        ).where(webhook_endpoints.c.workspace_id == workspace_id)
        return {
            "webhook_endpoints": await records(self._session, endpoints),
            "webhook_deliveries": await records(
                self._session,
                select(webhook_deliveries).where(webhook_deliveries.c.workspace_id == workspace_id),
            ),
        }

    async def erase_user(self, subject: DataSubject, pseudonym: Pseudonym) -> None:
        session = self._session
        await sweep(session, metadata, pseudonym.replacements(subject))
        # Copies of messages (a notification job's data, an event naming them): the
        # name too, as whole words.
        by_name = pseudonym.name_replacements(subject)
        await scrub(session, outbox, by_name, ["payload", "last_error"], whole_words=True)
        await scrub(session, jobs, by_name, ["payload", "last_error", "history"], whole_words=True)
        await scrub(session, webhook_deliveries, by_name, ["body"], whole_words=True)

    async def erase_workspace(self, workspace_id: str) -> None:
        for table in (webhook_deliveries, webhook_endpoints):
            await self._session.execute(delete(table).where(table.c.workspace_id == workspace_id))
