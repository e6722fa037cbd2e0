"""Operational safety: feature flags, kill switches, circuit breakers, impersonation,
the audit log, data export and deletion (docs/systems/safety.md).

What other systems use: kill switches (``KillSwitchBoard.check``), breakers around
provider calls, flag evaluation, the audit log, and the data-subject port each system
implements for export and erasure."""

from core.safety.audit import (
    AuditBreak,
    AuditEntry,
    AuditFilter,
    AuditLog,
    AuditPage,
    AuditRecord,
    AuditStore,
    AuditVerification,
    verify,
)
from core.safety.breaker_registry import BREAKERS, BreakerRegistry, BreakerSpec
from core.safety.breakers import (
    BreakerConfig,
    BreakerState,
    CircuitBreaker,
    CircuitOpenError,
    WindowKind,
)
from core.safety.context import (
    ActorType,
    RequestContext,
    current_context,
    set_context,
    update_context,
)
from core.safety.flag_eval import Evaluation, EvaluationContext, Flags
from core.safety.flag_eval import Reason as FlagReason
from core.safety.flags import FlagKind
from core.safety.kill_switches import (
    KILL_SWITCHES,
    KillSwitch,
    KillSwitchBoard,
    KillSwitchEngagedError,
    KillSwitchService,
    KillSwitchStore,
    SwitchKind,
    SwitchState,
    UnknownKillSwitchError,
)
from core.safety.snapshots import Snapshots, Topic, VersionStore

__all__ = [
    "BREAKERS",
    "KILL_SWITCHES",
    "ActorType",
    "AuditBreak",
    "AuditEntry",
    "AuditFilter",
    "AuditLog",
    "AuditPage",
    "AuditRecord",
    "AuditStore",
    "AuditVerification",
    "BreakerConfig",
    "BreakerRegistry",
    "BreakerSpec",
    "BreakerState",
    "CircuitBreaker",
    "CircuitOpenError",
    "Evaluation",
    "EvaluationContext",
    "FlagKind",
    "FlagReason",
    "Flags",
    "KillSwitch",
    "KillSwitchBoard",
    "KillSwitchEngagedError",
    "KillSwitchService",
    "KillSwitchStore",
    "RequestContext",
    "Snapshots",
    "SwitchKind",
    "SwitchState",
    "Topic",
    "UnknownKillSwitchError",
    "VersionStore",
    "WindowKind",
    "current_context",
    "set_context",
    "update_context",
    "verify",
]
