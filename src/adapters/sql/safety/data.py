"""The safety system's data requests on SQL (``DataRequestStore``), and safety's own part
of export and erasure (``DataSubjectPart``) on safety's tables.

Safety's part exports a person's data requests and pseudonymizes them everywhere in
safety's tables: the audit log's entries stay (who did what must remain provable) with
the person's id and email replaced by the pseudonym. An audit store that keeps a hash
chain pseudonymizes its own entries (``AuditPseudonymizer``, given to the part) and its
tables are left out of the sweep here.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.data_subject import records, sweep
from adapters.sql.safety.data_tables import data_requests
from adapters.sql.safety.tables import metadata
from core.safety.data import (
    DataRequest,
    DataSubject,
    Pseudonym,
    Records,
    RequestKind,
    RequestState,
    SubjectKind,
)


class SqlDataRequestStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, request: DataRequest) -> None:
        await self._session.execute(data_requests.insert().values(**_values(request)))

    async def save(self, request: DataRequest) -> None:
        values = _values(request)
        del values["id"]
        await self._session.execute(
            update(data_requests).where(data_requests.c.id == request.id).values(**values)
        )

    async def get(self, request_id: str, *, for_update: bool = False) -> DataRequest | None:
        query = select(data_requests).where(data_requests.c.id == request_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._session.execute(query)).first()
        return _request(row) if row else None

    async def by_token(self, token: str) -> DataRequest | None:
        row = (
            await self._session.execute(select(data_requests).where(data_requests.c.token == token))
        ).first()
        return _request(row) if row else None

    async def of_subject(
        self, subject_kind: SubjectKind, subject_id: str, kind: RequestKind | None = None
    ) -> Sequence[DataRequest]:
        query = select(data_requests).where(
            data_requests.c.subject_kind == subject_kind.value,
            data_requests.c.subject_id == subject_id,
        )
        if kind is not None:
            query = query.where(data_requests.c.kind == kind.value)
        rows = await self._session.execute(query.order_by(data_requests.c.id.desc()).limit(100))
        return [_request(row) for row in rows]

    async def due_deletions(self, now: datetime, limit: int) -> Sequence[str]:
        query = (
            select(data_requests.c.id)
            .where(
                data_requests.c.kind == RequestKind.DELETION.value,
                data_requests.c.subject_kind == SubjectKind.USER.value,
                data_requests.c.state == RequestState.SCHEDULED.value,
                data_requests.c.due_at <= now,
            )
            # A held erasure is touched on each run: it goes behind the others.
            .order_by(data_requests.c.updated_at, data_requests.c.id)
            .limit(limit)
        )
        return list((await self._session.execute(query)).scalars())

    async def expired_exports(self, now: datetime, limit: int) -> Sequence[DataRequest]:
        query = (
            select(data_requests)
            .where(
                data_requests.c.state == RequestState.READY.value,
                data_requests.c.expires_at <= now,
            )
            .order_by(data_requests.c.expires_at, data_requests.c.id)
            .limit(limit)
        )
        return [_request(row) for row in await self._session.execute(query)]

    async def page(
        self,
        *,
        kind: RequestKind | None,
        state: RequestState | None,
        before: str | None,
        limit: int,
    ) -> Sequence[DataRequest]:
        query = select(data_requests)
        if kind is not None:
            query = query.where(data_requests.c.kind == kind.value)
        if state is not None:
            query = query.where(data_requests.c.state == state.value)
        if before is not None:
            query = query.where(data_requests.c.id < before)
        rows = await self._session.execute(query.order_by(data_requests.c.id.desc()).limit(limit))
        return [_request(row) for row in rows]

    async def forget_subject(self, subject_kind: SubjectKind, subject_id: str) -> None:
        await self._session.execute(
            delete(data_requests).where(
                data_requests.c.kind == RequestKind.EXPORT.value,
                data_requests.c.subject_kind == subject_kind.value,
                data_requests.c.subject_id == subject_id,
            )
        )


def _values(request: DataRequest) -> dict[str, Any]:
    return {
        "id": request.id,
        "kind": request.kind.value,
        "subject_kind": request.subject_kind.value,
        "subject_id": request.subject_id,
        "requested_by": request.requested_by,
        "state": request.state.value,
        "created_at": request.created_at,
        "updated_at": request.updated_at,
        "due_at": request.due_at,
        "token": request.token,
        "expires_at": request.expires_at,
        "size": request.size,
        "error": request.error,
    }


def _request(row: Any) -> DataRequest:
    return DataRequest(
        id=row.id,
        kind=RequestKind(row.kind),
        subject_kind=SubjectKind(row.subject_kind),
        subject_id=row.subject_id,
        requested_by=row.requested_by,
        state=RequestState(row.state),
        created_at=row.created_at,
        updated_at=row.updated_at,
        due_at=row.due_at,
        token=row.token,
        expires_at=row.expires_at,
        size=row.size,
        error=row.error,
    )


class AuditPseudonymizer(Protocol):
    """The audit store's own pseudonymization (it keeps its hash chain valid):
    ``SqlAuditStore.pseudonymize`` replaces one value in the entries naming it."""

    async def pseudonymize(self, user_id: str, pseudonym: str, now: datetime) -> Any: ...


class SqlSafetyDataPart:
    name = "safety"

    def __init__(
        self,
        session: AsyncSession,
        *,
        now: datetime,
        audit: AuditPseudonymizer | None = None,
        audit_tables: Collection[str] = (),
    ) -> None:
        self._session = session
        self._now = now
        self._audit = audit
        self._audit_tables = audit_tables

    async def export_user(self, user_id: str) -> Records:
        query = select(data_requests).where(
            (data_requests.c.subject_id == user_id) | (data_requests.c.requested_by == user_id)
        )
        return {"data_requests": await records(self._session, query, leave_out={"token"})}

    async def export_workspace(self, workspace_id: str) -> Records:
        query = select(data_requests).where(
            data_requests.c.subject_kind == SubjectKind.WORKSPACE.value,
            data_requests.c.subject_id == workspace_id,
        )
        return {"data_requests": await records(self._session, query, leave_out={"token"})}

    async def erase_user(self, subject: DataSubject, pseudonym: Pseudonym) -> None:
        if self._audit is not None:
            # The id, then the email (an entry may quote it): each vouched for by an
            # ``audit.pseudonymized`` entry in the chain.
            await self._audit.pseudonymize(subject.user_id, pseudonym.id, self._now)
            if subject.email:
                await self._audit.pseudonymize(subject.email, pseudonym.email, self._now)
        await sweep(
            self._session,
            metadata,
            pseudonym.replacements(subject),
            skip=self._audit_tables if self._audit is not None else (),
        )

    async def erase_workspace(self, workspace_id: str) -> None:
        # Workspace ids are opaque: the audit log keeps them; exports are the service's.
        return None
