"""In-memory ``DataRequestStore`` and ``ArchiveStore`` for unit tests and forks' tests."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping, Sequence
from datetime import datetime

import msgspec

from core.safety.data import (
    DataRequest,
    RequestKind,
    RequestState,
    SubjectKind,
    check_archive_name,
)


def _copy(request: DataRequest) -> DataRequest:
    return msgspec.structs.replace(request)


class InMemoryDataRequestStore:
    def __init__(self) -> None:
        self.rows: dict[str, DataRequest] = {}

    def _newest_first(self) -> list[DataRequest]:
        return sorted(self.rows.values(), key=lambda r: r.id, reverse=True)

    async def add(self, request: DataRequest) -> None:
        self.rows[request.id] = _copy(request)

    async def save(self, request: DataRequest) -> None:
        self.rows[request.id] = _copy(request)

    async def get(self, request_id: str, *, for_update: bool = False) -> DataRequest | None:
        found = self.rows.get(request_id)
        return _copy(found) if found else None

    async def by_token(self, token: str) -> DataRequest | None:
        return next((_copy(r) for r in self.rows.values() if r.token == token), None)

    async def of_subject(
        self, subject_kind: SubjectKind, subject_id: str, kind: RequestKind | None = None
    ) -> Sequence[DataRequest]:
        return [
            _copy(r)
            for r in self._newest_first()
            if r.subject_kind is subject_kind
            and r.subject_id == subject_id
            and (kind is None or r.kind is kind)
        ][:100]

    async def due_deletions(self, now: datetime, limit: int) -> Sequence[str]:
        due = [
            r
            for r in self.rows.values()
            if r.kind is RequestKind.DELETION
            and r.subject_kind is SubjectKind.USER
            and r.state is RequestState.SCHEDULED
            and r.due_at is not None
            and r.due_at <= now
        ]
        return [r.id for r in sorted(due, key=lambda r: (r.updated_at, r.id))][:limit]

    async def expired_exports(self, now: datetime, limit: int) -> Sequence[DataRequest]:
        expired = [
            r
            for r in self.rows.values()
            if r.state is RequestState.READY and r.expires_at is not None and r.expires_at <= now
        ]
        ordered = sorted(expired, key=lambda r: (r.expires_at or now, r.id))
        return [_copy(r) for r in ordered][:limit]

    async def page(
        self,
        *,
        kind: RequestKind | None,
        state: RequestState | None,
        before: str | None,
        limit: int,
    ) -> Sequence[DataRequest]:
        return [
            _copy(r)
            for r in self._newest_first()
            if (kind is None or r.kind is kind)
            and (state is None or r.state is state)
            and (before is None or r.id < before)
        ][:limit]

    async def forget_subject(self, subject_kind: SubjectKind, subject_id: str) -> None:
        for request in list(self.rows.values()):
            if (
                request.kind is RequestKind.EXPORT
                and request.subject_kind is subject_kind
                and request.subject_id == subject_id
            ):
                del self.rows[request.id]


class InMemoryArchiveStore:
    def __init__(self) -> None:
        self.archives: dict[str, bytes] = {}

    async def write(self, name: str, files: Mapping[str, bytes]) -> int:
        check_archive_name(name)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for file, content in files.items():
                archive.writestr(file, content)
        self.archives[name] = buffer.getvalue()
        return len(self.archives[name])

    async def read(self, name: str) -> bytes | None:
        return self.archives.get(check_archive_name(name))

    async def delete(self, name: str) -> None:
        self.archives.pop(check_archive_name(name), None)
