"""What feature flags record: their changes (history rows and audit events), scheduled
changes, and their errors."""

from __future__ import annotations

import enum
from typing import Any, ClassVar

import msgspec

from core.kernel import ConflictError, DomainEvent, NotFoundError, ValidationError
from core.kernel.events import AwareDatetime
from core.safety.flags import EnvironmentConfig, FlagKind, Variant

REASON_MAX = 500


class FlagPatch(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A change to a flag: only the fields given change; ``environments`` replaces the
    configuration of each environment it names (others stay)."""

    description: str | msgspec.UnsetType = msgspec.UNSET
    kind: FlagKind | msgspec.UnsetType = msgspec.UNSET
    variants: tuple[Variant, ...] | msgspec.UnsetType = msgspec.UNSET
    off_variant: str | msgspec.UnsetType = msgspec.UNSET
    client_visible: bool | msgspec.UnsetType = msgspec.UNSET
    environments: dict[str, EnvironmentConfig] | msgspec.UnsetType = msgspec.UNSET


class ChangeAction(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    ARCHIVED = "archived"
    RESTORED = "restored"
    SCHEDULED = "scheduled"
    SCHEDULE_CANCELED = "schedule_canceled"
    DELETED = "deleted"  # segments only


class FlagChange(msgspec.Struct, frozen=True, kw_only=True):
    """One change of a flag or a segment: who, when, why, and the whole definition
    before and after (``None`` before a creation)."""

    id: str
    subject: str  # "flag" or "segment"
    key: str
    action: ChangeAction
    actor: str | None
    reason: str
    at: AwareDatetime
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    schedule_id: str | None = None


class ScheduleState(enum.StrEnum):
    PENDING = "pending"
    APPLIED = "applied"
    CANCELED = "canceled"
    FAILED = "failed"


class FlagSchedule(msgspec.Struct, frozen=True, kw_only=True):
    """A change to apply at ``apply_at`` (by the ``safety.apply_flag_schedules`` job)."""

    id: str
    key: str
    apply_at: AwareDatetime
    patch: FlagPatch
    reason: str
    created_by: str | None
    created_at: AwareDatetime
    state: ScheduleState = ScheduleState.PENDING
    done_at: AwareDatetime | None = None
    detail: str = ""


# --- audit events: every change is an audit log entry --------------------------------------


class _FlagEvent(DomainEvent, frozen=True, kw_only=True):
    audit_target: ClassVar[tuple[str, str] | None] = ("flag", "key")

    key: str
    reason: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


class FlagCreated(_FlagEvent, frozen=True, kw_only=True):
    """A feature flag was created."""

    name: ClassVar[str] = "safety.flag_created"
    audit_action: ClassVar[str | None] = "flag.created"


class FlagUpdated(_FlagEvent, frozen=True, kw_only=True):
    """A feature flag's definition changed (directly or by a scheduled change)."""

    name: ClassVar[str] = "safety.flag_updated"
    audit_action: ClassVar[str | None] = "flag.updated"

    schedule_id: str | None = None


class FlagArchived(_FlagEvent, frozen=True, kw_only=True):
    """A feature flag was archived (it serves its off variant) or restored."""

    name: ClassVar[str] = "safety.flag_archived"
    audit_action: ClassVar[str | None] = "flag.archived"

    archived: bool = True


class FlagChangeScheduled(_FlagEvent, frozen=True, kw_only=True):
    """A change to a flag was scheduled for later, or a scheduled one canceled."""

    name: ClassVar[str] = "safety.flag_change_scheduled"
    audit_action: ClassVar[str | None] = "flag.change_scheduled"

    schedule_id: str
    apply_at: AwareDatetime
    canceled: bool = False


class SegmentChanged(DomainEvent, frozen=True, kw_only=True):
    """A segment was created, changed or deleted."""

    name: ClassVar[str] = "safety.segment_changed"
    audit_action: ClassVar[str | None] = "segment.changed"
    audit_target: ClassVar[tuple[str, str] | None] = ("segment", "key")

    key: str
    reason: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


FLAG_EVENTS: tuple[type[DomainEvent], ...] = (
    FlagCreated,
    FlagUpdated,
    FlagArchived,
    FlagChangeScheduled,
    SegmentChanged,
)


# --- errors --------------------------------------------------------------------------------


class FlagReasonRequiredError(ValidationError):
    type = "safety/reason-required"
    title = "Say why: a reason is required."


class FlagNotFoundError(NotFoundError):
    type = "safety/flag-not-found"
    title = "There is no such flag."


class SegmentNotFoundError(NotFoundError):
    type = "safety/segment-not-found"
    title = "There is no such segment."


class ScheduleNotFoundError(NotFoundError):
    type = "safety/flag-schedule-not-found"
    title = "There is no such scheduled change."


class FlagExistsError(ConflictError):
    type = "safety/flag-exists"
    title = "A flag (or segment) with that key exists already."


class FlagVersionConflictError(ConflictError):
    type = "safety/flag-version-conflict"
    title = "The flag changed since you read it."


class SegmentInUseError(ConflictError):
    type = "safety/segment-in-use"
    title = "Flags use this segment."


class FlagArchivedError(ConflictError):
    type = "safety/flag-archived"
    title = "The flag is archived: restore it first."
