"""The data requests' use cases: export (request, build, download, expire) and deletion
(schedule with a grace period, cancel, erase when due), in the caller's unit of work.

Building and erasing are jobs (``entrypoints.safety.data_jobs``): each runs in one unit
of work, so an erasure that fails half way leaves nothing erased and is retried whole.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import msgspec

from core.kernel import Clock, IdGenerator, UnitOfWork
from core.notifications import NotificationRequest, Notifier, Recipient
from core.safety.data import (
    OPEN_EXPORT_STATES,
    AccountDirectory,
    ArchiveStore,
    DataDeletionCanceled,
    DataDeletionRequested,
    DataErased,
    DataExportDownloaded,
    DataExportReady,
    DataExportRequested,
    DataRequest,
    DataRequestNotFoundError,
    DataRequestStateError,
    DataRequestStore,
    DataSubject,
    DataSubjectPart,
    ExportNotFoundError,
    Pseudonym,
    RequestKind,
    RequestState,
    SoleOwnerError,
    SubjectKind,
)
from core.safety.data_notifications import ACCOUNT_DELETION_SCHEDULED, DATA_EXPORT_READY

ARCHIVE_FORMAT = 1
DOWNLOAD_PATH = "/api/v1/exports/"
ACCOUNT_DELETION_GRACE = timedelta(days=30)
EXPORT_LINK_LIFETIME = timedelta(hours=24)


def archive_name(token: str) -> str:
    """The archive's file name: a hash of its token, so a directory listing reveals no
    link."""
    return hashlib.sha256(token.encode()).hexdigest() + ".zip"


class DataService:
    def __init__(
        self,
        *,
        uow: UnitOfWork,
        requests: DataRequestStore,
        parts: Sequence[DataSubjectPart],
        directory: AccountDirectory,
        archives: ArchiveStore,
        clock: Clock,
        ids: IdGenerator,
        link_lifetime: timedelta = EXPORT_LINK_LIFETIME,
        account_grace: timedelta = ACCOUNT_DELETION_GRACE,
        notifier: Notifier | None = None,
        public_url: str = "",
    ) -> None:
        self._uow = uow
        self.requests = requests
        self._parts = parts
        self._directory = directory
        self._archives = archives
        self._clock = clock
        self._ids = ids
        self._link_lifetime = link_lifetime
        self._account_grace = account_grace
        self._notifier = notifier
        self._public_url = public_url.rstrip("/")

    # --- export ---------------------------------------------------------------------

    async def request_export(
        self,
        subject_kind: SubjectKind,
        subject_id: str,
        *,
        requested_by: str | None,
        reason: str | None = None,
    ) -> tuple[DataRequest, bool]:
        """A new export of the subject's data, or the one already on its way; ``True``
        when new (the caller enqueues its build)."""
        for existing in await self.requests.of_subject(
            subject_kind, subject_id, RequestKind.EXPORT
        ):
            if existing.state in OPEN_EXPORT_STATES:
                return existing, False
        now = self._clock.now()
        request = DataRequest(
            id=self._ids.new("dat", now),
            kind=RequestKind.EXPORT,
            subject_kind=subject_kind,
            subject_id=subject_id,
            requested_by=requested_by,
            state=RequestState.REQUESTED,
            created_at=now,
            updated_at=now,
        )
        await self.requests.add(request)
        self._uow.raise_event(
            DataExportRequested(
                occurred_at=now,
                workspace_id=subject_id if subject_kind is SubjectKind.WORKSPACE else None,
                request_id=request.id,
                subject_kind=subject_kind.value,
                subject_id=subject_id,
                reason=reason,
            )
        )
        return request, True

    async def build_export(self, request_id: str) -> DataRequest | None:
        """Gather every system's part into one archive and open its link (the job).
        A request that is no longer waiting is left as it is."""
        request = await self.requests.get(request_id, for_update=True)
        if request is None or request.state not in OPEN_EXPORT_STATES:
            return request
        now = self._clock.now()
        request.start_building(now)
        files: dict[str, bytes] = {}
        contents: dict[str, dict[str, int]] = {}
        for part in self._parts:
            if request.subject_kind is SubjectKind.USER:
                records = await part.export_user(request.subject_id)
            else:
                records = await part.export_workspace(request.subject_id)
            contents[part.name] = {}
            for file, rows in sorted(records.items()):
                files[f"{part.name}/{file}.json"] = _json(rows)
                contents[part.name][file] = len(rows)
        files["manifest.json"] = _json(
            {
                "format": ARCHIVE_FORMAT,
                "request_id": request.id,
                "subject": {"kind": request.subject_kind.value, "id": request.subject_id},
                "requested_at": request.created_at,
                "built_at": now,
                "systems": contents,
            }
        )
        token = secrets.token_urlsafe(32)
        size = await self._archives.write(archive_name(token), files)
        expires_at = now + self._link_lifetime
        request.mark_ready(token, size, now, expires_at)
        await self.requests.save(request)
        self._uow.raise_event(
            DataExportReady(
                occurred_at=now,
                workspace_id=_workspace_of(request),
                request_id=request.id,
                expires_at=expires_at,
            )
        )
        what = "your data" if request.subject_kind is SubjectKind.USER else "the workspace's data"
        await self._tell(
            request.requested_by,
            DATA_EXPORT_READY.name,
            {
                "what": what,
                "link": f"{self._public_url}{DOWNLOAD_PATH}{token}",
                "expires_at": _shown(expires_at),
            },
            key=f"{request.id}:ready",
            workspace_id=_workspace_of(request),
        )
        return request

    async def export_failed(self, request_id: str, error: str) -> None:
        """Record the build's last failure (after its retries) for staff."""
        request = await self.requests.get(request_id, for_update=True)
        if request is not None and request.state in OPEN_EXPORT_STATES:
            request.fail(error, self._clock.now())
            await self.requests.save(request)

    async def download(
        self, token: str, *, allowed: Callable[[DataRequest], Awaitable[bool]] | None = None
    ) -> tuple[DataRequest, bytes]:
        """The archive behind a link, for whom ``allowed`` accepts; unknown, expired,
        unready and not allowed links answer alike."""
        request = await self.requests.by_token(token) if token else None
        now = self._clock.now()
        if request is None or not request.is_downloadable(now):
            raise ExportNotFoundError()
        if allowed is not None and not await allowed(request):
            raise ExportNotFoundError()
        archive = await self._archives.read(archive_name(token))
        if archive is None:
            raise ExportNotFoundError()
        self._uow.raise_event(
            DataExportDownloaded(
                occurred_at=now, workspace_id=_workspace_of(request), request_id=request.id
            )
        )
        return request, archive

    async def exports(self, subject_kind: SubjectKind, subject_id: str) -> Sequence[DataRequest]:
        return await self.requests.of_subject(subject_kind, subject_id, RequestKind.EXPORT)

    async def expire_exports(self, limit: int = 100) -> int:
        """Delete the archives whose links have expired (a scheduled job)."""
        now = self._clock.now()
        expired = await self.requests.expired_exports(now, limit)
        for request in expired:
            if request.token is not None:
                await self._archives.delete(archive_name(request.token))
            request.expire(now)
            await self.requests.save(request)
        return len(expired)

    # --- deletion -------------------------------------------------------------------

    async def scheduled_deletion(self, user_id: str) -> DataRequest | None:
        for request in await self.requests.of_subject(
            SubjectKind.USER, user_id, RequestKind.DELETION
        ):
            if request.state is RequestState.SCHEDULED:
                return request
        return None

    async def request_account_deletion(
        self, user_id: str, *, requested_by: str | None, reason: str | None = None
    ) -> DataRequest:
        """Schedule the account's erasure after the grace period (the one already
        scheduled, if any). The only owner of a live workspace must transfer or delete
        it first."""
        existing = await self.scheduled_deletion(user_id)
        if existing is not None:
            return existing
        await self._refuse_sole_owner(user_id)
        now = self._clock.now()
        due = now + self._account_grace
        request = DataRequest(
            id=self._ids.new("dat", now),
            kind=RequestKind.DELETION,
            subject_kind=SubjectKind.USER,
            subject_id=user_id,
            requested_by=requested_by,
            state=RequestState.SCHEDULED,
            created_at=now,
            updated_at=now,
            due_at=due,
        )
        await self.requests.add(request)
        self._uow.raise_event(
            DataDeletionRequested(
                occurred_at=now,
                request_id=request.id,
                subject_kind=SubjectKind.USER.value,
                subject_id=user_id,
                erase_after=due,
                reason=reason,
            )
        )
        await self._tell(
            user_id,
            ACCOUNT_DELETION_SCHEDULED.name,
            {"erase_after": _shown(due), "sign_in_url": f"{self._public_url}/sign-in"},
            key=f"{request.id}:scheduled",
        )
        return request

    async def cancel_account_deletion(self, user_id: str) -> DataRequest:
        request = await self.scheduled_deletion(user_id)
        if request is None:
            raise DataRequestNotFoundError("no deletion of this account is scheduled")
        return await self._cancel(request, None)

    async def cancel_deletion(self, request_id: str, *, reason: str) -> DataRequest:
        """Staff cancel a scheduled account deletion (409 for any other request)."""
        request = await self.requests.get(request_id, for_update=True)
        if request is None:
            raise DataRequestNotFoundError()
        if request.kind is not RequestKind.DELETION or request.subject_kind is not SubjectKind.USER:
            raise DataRequestStateError(
                "only an account's scheduled deletion can be canceled; a workspace's "
                "deletion is identity's",
                request_id=request.id,
                state=request.state.value,
            )
        return await self._cancel(request, reason)

    async def _cancel(self, request: DataRequest, reason: str | None) -> DataRequest:
        now = self._clock.now()
        request.cancel(now)
        await self.requests.save(request)
        self._uow.raise_event(
            DataDeletionCanceled(occurred_at=now, request_id=request.id, reason=reason)
        )
        return request

    async def due_deletions(self, limit: int = 100) -> Sequence[str]:
        return await self.requests.due_deletions(self._clock.now(), limit)

    async def erase(self, request_id: str) -> bool:
        """Erase a due account deletion across every system; ``False`` when it is not
        (or no longer) due, or is held because the person became a sole owner since."""
        request = await self.requests.get(request_id, for_update=True)
        now = self._clock.now()
        if (
            request is None
            or request.state is not RequestState.SCHEDULED
            or request.subject_kind is not SubjectKind.USER
            or (request.due_at is not None and request.due_at > now)
        ):
            return False
        user_id = request.subject_id
        sole = await self._directory.sole_owned_workspaces(user_id)
        if sole:
            request.error = f"held: the only owner of {', '.join(sole)}"
            request.updated_at = now
            await self.requests.save(request)
            return False
        subject = await self._directory.subject(user_id) or DataSubject(
            user_id=user_id, email="", name=""
        )
        pseudonym = Pseudonym.of(secrets.token_hex(8))
        await self._forget_exports(SubjectKind.USER, user_id)
        for part in self._parts:
            await part.erase_user(subject, pseudonym)
        request.erased(pseudonym.id, now)
        await self.requests.save(request)
        self._uow.raise_event(
            DataErased(
                occurred_at=now,
                request_id=request.id,
                subject_kind=SubjectKind.USER.value,
                pseudonym=pseudonym.id,
            )
        )
        return True

    async def workspace_deletion_scheduled(self, workspace_id: str, purge_after: datetime) -> None:
        """Record identity's workspace deletion (its grace period is identity's)."""
        found = await self.requests.of_subject(
            SubjectKind.WORKSPACE, workspace_id, RequestKind.DELETION
        )
        if any(r.state in (RequestState.SCHEDULED, RequestState.ERASED) for r in found):
            return
        now = self._clock.now()
        await self.requests.add(
            DataRequest(
                id=self._ids.new("dat", now),
                kind=RequestKind.DELETION,
                subject_kind=SubjectKind.WORKSPACE,
                subject_id=workspace_id,
                requested_by=None,
                state=RequestState.SCHEDULED,
                created_at=now,
                updated_at=now,
                due_at=purge_after,
            )
        )

    async def erase_workspace(self, workspace_id: str) -> DataRequest:
        """Complete identity's purge of a workspace in every system (idempotent)."""
        found = await self.requests.of_subject(
            SubjectKind.WORKSPACE, workspace_id, RequestKind.DELETION
        )
        for request in found:
            if request.state is RequestState.ERASED:
                return request
        now = self._clock.now()
        scheduled = next((r for r in found if r.state is RequestState.SCHEDULED), None)
        if scheduled is not None:
            request = scheduled
        else:
            request = DataRequest(
                id=self._ids.new("dat", now),
                kind=RequestKind.DELETION,
                subject_kind=SubjectKind.WORKSPACE,
                subject_id=workspace_id,
                requested_by=None,
                state=RequestState.SCHEDULED,
                created_at=now,
                updated_at=now,
                due_at=now,
            )
            await self.requests.add(request)
        await self._forget_exports(SubjectKind.WORKSPACE, workspace_id)
        for part in self._parts:
            await part.erase_workspace(workspace_id)
        request.erased(workspace_id, now)
        await self.requests.save(request)
        self._uow.raise_event(
            DataErased(
                occurred_at=now,
                request_id=request.id,
                subject_kind=SubjectKind.WORKSPACE.value,
                pseudonym=workspace_id,
            )
        )
        return request

    async def _tell(
        self,
        user_id: str | None,
        kind: str,
        data: dict[str, Any],
        *,
        key: str,
        workspace_id: str | None = None,
    ) -> None:
        """Notify a person (in this unit of work), if a notifier is wired and they exist."""
        person = await self._directory.subject(user_id) if self._notifier and user_id else None
        if self._notifier is None or person is None:
            return
        recipient = Recipient(
            user_id=person.user_id,
            email=person.email,
            name=person.name or None,
            workspace_id=workspace_id,
        )
        await self._notifier.notify(
            NotificationRequest(type=kind, recipient=recipient, data=data, idempotency_key=key)
        )

    async def _refuse_sole_owner(self, user_id: str) -> None:
        sole = await self._directory.sole_owned_workspaces(user_id)
        if sole:
            raise SoleOwnerError(
                "you are the only owner of "
                + ("a workspace" if len(sole) == 1 else f"{len(sole)} workspaces")
                + ": make another member an owner, or delete it, first",
                workspaces=list(sole),
            )

    async def _forget_exports(self, subject_kind: SubjectKind, subject_id: str) -> None:
        for export in await self.requests.of_subject(subject_kind, subject_id, RequestKind.EXPORT):
            if export.token is not None:
                await self._archives.delete(archive_name(export.token))
        await self.requests.forget_subject(subject_kind, subject_id)


def _shown(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def _workspace_of(request: DataRequest) -> str | None:
    return request.subject_id if request.subject_kind is SubjectKind.WORKSPACE else None


def _json(value: Any) -> bytes:
    return msgspec.json.format(msgspec.json.encode(value), indent=2)
