"""What the flags routes take and answer (``entrypoints.http.safety.flags``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from core.safety.flag_eval import Evaluation, EvaluationContext
from core.safety.flag_events import FlagChange, FlagPatch, FlagSchedule
from core.safety.flags import (
    Constraint,
    EnvironmentConfig,
    Flag,
    FlagKind,
    Key,
    Segment,
    ValueType,
    Variant,
)

Reason = Annotated[str, msgspec.Meta(max_length=500)]


class FlagIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    key: Key
    description: Annotated[str, msgspec.Meta(max_length=1000)] = ""
    kind: FlagKind = FlagKind.RELEASE
    value_type: ValueType = ValueType.BOOLEAN
    variants: tuple[Variant, ...] = ()
    """A boolean flag's are ``on`` (true) and ``off`` (false), given or not."""
    off_variant: str = "off"
    client_visible: bool = False
    environments: dict[str, EnvironmentConfig] = msgspec.field(default_factory=dict)
    reason: Reason = ""


class FlagPatchIn(FlagPatch, frozen=True, kw_only=True, forbid_unknown_fields=True):
    reason: Reason = ""
    version: int | None = None
    """The version you read: refused with 409 if the flag changed since."""


class ReasonIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Reason = ""


class ScheduleIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    apply_at: Annotated[datetime, msgspec.Meta(tz=True)]
    change: FlagPatch
    reason: Reason = ""


class SegmentIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    key: Key
    description: Annotated[str, msgspec.Meta(max_length=1000)] = ""
    constraints: tuple[Constraint, ...] = ()
    reason: Reason = ""


class SegmentPatchIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    description: Annotated[str, msgspec.Meta(max_length=1000)] | None = None
    constraints: tuple[Constraint, ...] | None = None
    reason: Reason = ""


class EvaluateIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    context: EvaluationContext = msgspec.field(default_factory=EvaluationContext)


class FlagOut(Flag, frozen=True, kw_only=True):
    stale: bool = False
    """Past its kind's expected lifetime: remove it from the code, then archive it."""
    stale_after: datetime | None = None
    """When it outlives (or outlived) its kind's lifetime; none for permission flags and
    kill switches."""

    @classmethod
    def of(cls, flag: Flag, now: datetime) -> FlagOut:
        return cls(
            **msgspec.structs.asdict(flag), stale=flag.is_stale(now), stale_after=flag.stale_at()
        )


class FlagsOut(msgspec.Struct):
    flags: list[FlagOut]


class FlagDetailOut(msgspec.Struct):
    flag: FlagOut
    history: list[FlagChange]
    """Newest first, with each change's whole definition before and after."""
    schedules: list[FlagSchedule]
    """Pending scheduled changes, soonest first."""


class SegmentsOut(msgspec.Struct):
    segments: list[Segment]


class SegmentDetailOut(msgspec.Struct):
    segment: Segment
    history: list[FlagChange]


class EvaluatedFlagsOut(msgspec.Struct):
    environment: str
    flags: dict[str, Evaluation]
