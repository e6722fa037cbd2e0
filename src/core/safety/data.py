"""Data export and deletion: the requests, their state machines, and the port every
system implements so that one archive holds each system's part of a person's (or a
workspace's) data and one erasure reaches every system (docs/systems/safety/data.md).

An export is ``requested`` → ``building`` (the job) → ``ready`` (a download token that
expires) → ``expired`` (the archive deleted); a build that fails is ``failed``. A
deletion is ``scheduled`` (the grace period) → ``canceled`` | ``erased``. Once erased,
the request keeps only the pseudonym the person's records were given.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

import msgspec

from core.kernel import ConflictError, DomainEvent, NotFoundError
from core.kernel.events import AwareDatetime

ERASED_NAME = "Erased user"
ERASED_EMAIL_DOMAIN = "erased.invalid"
PSEUDONYM_PREFIX = "erased_"
NAME_MIN = 4

Records = dict[str, list[dict[str, Any]]]
"""A system's part of an export: file name (``sessions``) → its records (JSON-able)."""


class RequestKind(enum.StrEnum):
    EXPORT = "export"
    DELETION = "deletion"


class SubjectKind(enum.StrEnum):
    USER = "user"
    WORKSPACE = "workspace"


class RequestState(enum.StrEnum):
    REQUESTED = "requested"
    BUILDING = "building"
    READY = "ready"
    EXPIRED = "expired"
    FAILED = "failed"
    SCHEDULED = "scheduled"
    CANCELED = "canceled"
    ERASED = "erased"


OPEN_EXPORT_STATES = frozenset({RequestState.REQUESTED, RequestState.BUILDING})


class DataRequestStateError(ConflictError):
    type = "safety/data-request-state"
    title = "The data request is not in the state this needs."


class DataRequestNotFoundError(NotFoundError):
    type = "safety/data-request-not-found"
    title = "There is no such data request."


class ExportNotFoundError(NotFoundError):
    """An unknown, expired or not yet ready download token: all answer alike."""

    type = "safety/export-not-found"
    title = "There is no such export, or its link has expired."


class SoleOwnerError(ConflictError):
    """The account is the only owner of workspaces that would be left without one."""

    type = "safety/sole-owner"
    title = "Transfer or delete your workspaces first."


class DataRequest(msgspec.Struct, kw_only=True):
    id: str  # dat_…, time-ordered
    kind: RequestKind
    subject_kind: SubjectKind
    subject_id: str  # the user or workspace; the pseudonym once erased
    requested_by: str | None  # who asked (the subject, an owner, staff); None: the system
    state: RequestState
    created_at: datetime
    updated_at: datetime
    due_at: datetime | None = None  # deletion: when the grace period ends
    token: str | None = None  # export: the download token, while ready
    expires_at: datetime | None = None  # export: when the link stops working
    size: int | None = None  # export: the archive's bytes
    error: str | None = None  # the last failure, for staff

    def _require(self, *states: RequestState) -> None:
        if self.state not in states:
            raise DataRequestStateError(
                f"the {self.kind} request is {self.state}, not {' or '.join(states)}",
                request_id=self.id,
                state=self.state.value,
            )

    def start_building(self, now: datetime) -> None:
        self._require(RequestState.REQUESTED, RequestState.BUILDING)
        self.state, self.updated_at = RequestState.BUILDING, now

    def mark_ready(self, token: str, size: int, now: datetime, expires_at: datetime) -> None:
        self._require(RequestState.BUILDING)
        self.state, self.token, self.size, self.error = RequestState.READY, token, size, None
        self.expires_at, self.updated_at = expires_at, now

    def fail(self, error: str, now: datetime) -> None:
        self._require(RequestState.REQUESTED, RequestState.BUILDING)
        self.state, self.error, self.updated_at = RequestState.FAILED, error[:2000], now

    def expire(self, now: datetime) -> None:
        self._require(RequestState.READY)
        self.state, self.token, self.updated_at = RequestState.EXPIRED, None, now

    def cancel(self, now: datetime) -> None:
        self._require(RequestState.SCHEDULED)
        self.state, self.updated_at = RequestState.CANCELED, now

    def erased(self, pseudonym: str, now: datetime) -> None:
        self._require(RequestState.SCHEDULED)
        if self.requested_by == self.subject_id:
            self.requested_by = pseudonym
        self.state, self.subject_id, self.updated_at = RequestState.ERASED, pseudonym, now
        self.error = None

    def is_downloadable(self, now: datetime) -> bool:
        return (
            self.state is RequestState.READY
            and self.expires_at is not None
            and now < self.expires_at
        )


class DataSubject(msgspec.Struct, frozen=True, kw_only=True):
    """The person being erased, as identity knows them: what other systems look for."""

    user_id: str
    email: str
    name: str


class Pseudonym(msgspec.Struct, frozen=True, kw_only=True):
    """What replaces a person where a record must stay (ledger, invoices, audit)."""

    id: str  # erased_<hex>: fits every id column
    email: str  # erased_<hex>@erased.invalid
    name: str = ERASED_NAME

    @classmethod
    def of(cls, token: str) -> Pseudonym:
        pseudonym = PSEUDONYM_PREFIX + token
        return cls(id=pseudonym, email=f"{pseudonym}@{ERASED_EMAIL_DOMAIN}")

    def replacements(self, subject: DataSubject) -> dict[str, str]:
        """Needle → replacement for free text: the id and the email."""
        return {subject.user_id: self.id, subject.email: self.email}

    def name_replacements(self, subject: DataSubject) -> dict[str, str]:
        """The name → ``ERASED_NAME``, for copies of messages (whole words only; none
        for a name shorter than ``NAME_MIN``, which would match other words)."""
        name = subject.name.strip()
        return {name: self.name} if len(name) >= NAME_MIN else {}


class DataSubjectPart(Protocol):
    """One system's part of export and erasure; each touches only its own tables and
    decides per table: export, delete, or pseudonymize where a record must stay."""

    name: str

    async def export_user(self, user_id: str) -> Records: ...

    async def export_workspace(self, workspace_id: str) -> Records: ...

    async def erase_user(self, subject: DataSubject, pseudonym: Pseudonym) -> None: ...

    async def erase_workspace(self, workspace_id: str) -> None:
        """After identity purged the workspace (``WorkspacePurged``). A workspace id is
        an opaque id, not personal data: records that must stay keep it."""
        ...


class AccountDirectory(Protocol):
    """What the data service asks identity about a person."""

    async def subject(self, user_id: str) -> DataSubject | None: ...

    async def sole_owned_workspaces(self, user_id: str) -> Sequence[str]:
        """Live workspaces whose only owner is ``user_id``."""
        ...


class DataRequestStore(Protocol):
    async def add(self, request: DataRequest) -> None: ...

    async def save(self, request: DataRequest) -> None: ...

    async def get(self, request_id: str, *, for_update: bool = False) -> DataRequest | None: ...

    async def by_token(self, token: str) -> DataRequest | None: ...

    async def of_subject(
        self, subject_kind: SubjectKind, subject_id: str, kind: RequestKind | None = None
    ) -> Sequence[DataRequest]:
        """The subject's requests, newest first."""
        ...

    async def due_deletions(self, now: datetime, limit: int) -> Sequence[str]: ...

    async def expired_exports(self, now: datetime, limit: int) -> Sequence[DataRequest]: ...

    async def page(
        self,
        *,
        kind: RequestKind | None,
        state: RequestState | None,
        before: str | None,
        limit: int,
    ) -> Sequence[DataRequest]:
        """Requests newest first, ids below ``before``."""
        ...

    async def forget_subject(self, subject_kind: SubjectKind, subject_id: str) -> None:
        """Delete the subject's export requests (their archives are deleted first)."""
        ...


_ARCHIVE_NAME = re.compile(r"[A-Za-z0-9_-]{1,100}\.zip")


def check_archive_name(name: str) -> str:
    """``name`` if it is an archive's name (letters, digits, ``_``, ``-``, then ``.zip``):
    no path, so no store can be led outside its place."""
    if not _ARCHIVE_NAME.fullmatch(name):
        raise ValueError(f"not an archive name: {name!r}")
    return name


class ArchiveStore(Protocol):
    """Where built archives wait for their download (a local directory by default).
    Each method refuses a name ``check_archive_name`` refuses (``ValueError``)."""

    async def write(self, name: str, files: Mapping[str, bytes]) -> int:
        """Zip ``files`` into the archive ``name``; returns its size in bytes."""
        ...

    async def read(self, name: str) -> bytes | None: ...

    async def delete(self, name: str) -> None: ...


# --- events: each is an audit log entry -----------------------------------------------


class DataExportRequested(DomainEvent, frozen=True, kw_only=True):
    name = "safety.data_export_requested"
    audit_action = "data.export_requested"
    audit_target = ("data_request", "request_id")

    request_id: str
    subject_kind: str
    subject_id: str
    reason: str | None = None  # staff asking on someone's behalf say why


class DataExportReady(DomainEvent, frozen=True, kw_only=True):
    name = "safety.data_export_ready"
    audit_action = "data.export_ready"
    audit_target = ("data_request", "request_id")

    request_id: str
    expires_at: AwareDatetime


class DataExportDownloaded(DomainEvent, frozen=True, kw_only=True):
    name = "safety.data_export_downloaded"
    audit_action = "data.export_downloaded"
    audit_target = ("data_request", "request_id")

    request_id: str


class DataDeletionRequested(DomainEvent, frozen=True, kw_only=True):
    name = "safety.data_deletion_requested"
    audit_action = "data.deletion_requested"
    audit_target = ("data_request", "request_id")

    request_id: str
    subject_kind: str
    subject_id: str
    erase_after: AwareDatetime
    reason: str | None = None


class DataDeletionCanceled(DomainEvent, frozen=True, kw_only=True):
    name = "safety.data_deletion_canceled"
    audit_action = "data.deletion_canceled"
    audit_target = ("data_request", "request_id")

    request_id: str
    reason: str | None = None


class DataErased(DomainEvent, frozen=True, kw_only=True):
    """Carries the pseudonym only: the erased id must not come back through the outbox."""

    name = "safety.data_erased"
    audit_action = "data.erased"
    audit_target = ("data_request", "request_id")

    request_id: str
    subject_kind: str
    pseudonym: str
