"""Kill switches: named switches that turn one risky capability off at once.

A switch guards either HTTP routes (an engaged switch answers 503 problem+json with
Retry-After and its runbook) or job queues (an engaged switch pauses them: jobs wait,
none is dropped, and they run when it is released). Each is engaged and released with a
reason, by someone; the state lives in the shared database and reaches every process
within the snapshot poll interval (``snapshots.py``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Protocol

import msgspec

from core.kernel import ConflictError, DomainError, DomainEvent, NotFoundError, ValidationError
from core.kernel.events import AwareDatetime

RUNBOOK_BASE = "docs/runbooks/"
REASON_MAX = 500


class SwitchKind(enum.StrEnum):
    HTTP = "http"  # routes answer 503 while engaged
    JOBS = "jobs"  # queues are paused while engaged


class KillSwitch(msgspec.Struct, frozen=True, kw_only=True):
    """A declared switch: what it turns off and the runbook that says when to."""

    name: str
    description: str
    kind: SwitchKind
    queues: tuple[str, ...] = ()  # for JOBS switches: the queues it pauses
    runbook: str  # a path under docs/runbooks/, e.g. "kill-switches/checkout.md"
    retry_after: int = 300  # seconds, for HTTP answers while engaged


KILL_SWITCHES: tuple[KillSwitch, ...] = (
    KillSwitch(
        name="signups",
        description="New accounts: POST /api/v1/auth/sign-up answers 503",
        kind=SwitchKind.HTTP,
        runbook="kill-switches/signups.md",
    ),
    KillSwitch(
        name="checkout",
        description="Starting checkouts and changing subscriptions answer 503",
        kind=SwitchKind.HTTP,
        runbook="kill-switches/checkout.md",
    ),
    KillSwitch(
        name="outbound-email",
        description="Email and SMS delivery pauses (the notifications queue); nothing is lost",
        kind=SwitchKind.JOBS,
        queues=("notifications",),
        runbook="kill-switches/outbound-email.md",
    ),
    KillSwitch(
        name="webhook-delivery",
        description="Delivery to customers' webhook endpoints pauses (the webhooks queue)",
        kind=SwitchKind.JOBS,
        queues=("webhooks",),
        runbook="kill-switches/webhook-delivery.md",
    ),
    KillSwitch(
        name="media-uploads",
        description="Uploads of media answer 503",
        kind=SwitchKind.HTTP,
        runbook="kill-switches/media-uploads.md",
    ),
)


class SwitchState(msgspec.Struct, frozen=True, kw_only=True):
    """A switch's state as last changed. Never engaged: ``engaged`` false, no times."""

    name: str
    engaged: bool = False
    reason: str = ""
    changed_by: str | None = None
    changed_at: AwareDatetime | None = None


class KillSwitchEngaged(DomainEvent, frozen=True, kw_only=True):
    """Staff turned a capability off (an audit log entry)."""

    name = "safety.kill_switch_engaged"
    audit_action = "kill_switch.engaged"
    audit_target = ("kill_switch", "switch")

    switch: str
    reason: str
    before: dict[str, bool]
    after: dict[str, bool]


class KillSwitchReleased(DomainEvent, frozen=True, kw_only=True):
    """Staff turned a capability back on (an audit log entry)."""

    name = "safety.kill_switch_released"
    audit_action = "kill_switch.released"
    audit_target = ("kill_switch", "switch")

    switch: str
    reason: str
    before: dict[str, bool]
    after: dict[str, bool]


class KillSwitchEngagedError(DomainError):
    """The capability is switched off by operators for now."""

    type = "safety/kill-switch-engaged"
    status = 503
    title = "This is switched off for now."

    def __init__(self, switch: KillSwitch, state: SwitchState) -> None:
        super().__init__(
            f"switched off by the operators for now (kill switch {switch.name!r}: "
            f"{switch.description}); try again later",
            headers={"Retry-After": str(switch.retry_after)},
            kill_switch=switch.name,
            runbook=RUNBOOK_BASE + switch.runbook,
            since=state.changed_at.isoformat() if state.changed_at else None,
        )


class UnknownKillSwitchError(NotFoundError):
    type = "safety/unknown-kill-switch"
    title = "There is no such kill switch."


class KillSwitchReasonError(ValidationError):
    type = "safety/reason-required"
    title = "Say why: a reason is required."


class KillSwitchUnchangedError(ConflictError):
    type = "safety/kill-switch-unchanged"
    title = "The kill switch is already in that state."


class KillSwitchStore(Protocol):
    async def states(self) -> dict[str, SwitchState]: ...

    async def set(self, state: SwitchState) -> None:
        """Store ``state`` as the switch's current one and append it to its history."""
        ...

    async def history(self, name: str, *, limit: int = 50) -> list[SwitchState]:
        """The switch's changes, newest first."""
        ...


class KillSwitchBoard:
    """The declared switches and their states (a snapshot). Cheap to consult."""

    def __init__(
        self, switches: Iterable[KillSwitch], states: Mapping[str, SwitchState] | None = None
    ) -> None:
        self.switches: dict[str, KillSwitch] = {s.name: s for s in switches}
        self._states = dict(states or {})

    def switch(self, name: str) -> KillSwitch:
        found = self.switches.get(name)
        if found is None:
            raise UnknownKillSwitchError(
                f"no kill switch {name!r} (there are: {', '.join(sorted(self.switches))})",
                name=name,
            )
        return found

    def state(self, name: str) -> SwitchState:
        self.switch(name)
        return self._states.get(name) or SwitchState(name=name)

    def is_engaged(self, name: str) -> bool:
        state = self._states.get(name)
        return state is not None and state.engaged

    def check(self, name: str) -> None:
        """Raise ``KillSwitchEngagedError`` if ``name`` is engaged."""
        if self.is_engaged(name):
            raise KillSwitchEngagedError(self.switch(name), self._states[name])

    def paused_queues(self) -> frozenset[str]:
        """The queues engaged JOBS switches pause."""
        return frozenset(
            queue
            for switch in self.switches.values()
            if switch.kind is SwitchKind.JOBS and self.is_engaged(switch.name)
            for queue in switch.queues
        )

    def all(self) -> Sequence[tuple[KillSwitch, SwitchState]]:
        return [(s, self.state(s.name)) for s in self.switches.values()]


class KillSwitchService:
    """Engaging and releasing, with a reason, in the caller's unit of work; the
    caller's transaction also bumps the kill switches' version (``VersionStore``)."""

    def __init__(self, board: KillSwitchBoard, store: KillSwitchStore) -> None:
        self.board = board
        self.store = store

    async def set(
        self, name: str, *, engaged: bool, reason: str, actor: str | None, now: datetime
    ) -> SwitchState:
        switch = self.board.switch(name)
        reason = reason.strip()
        if not reason:
            raise KillSwitchReasonError(
                f"say why you {'engage' if engaged else 'release'} {name!r} (--reason)"
            )
        if len(reason) > REASON_MAX:
            raise KillSwitchReasonError(f"a reason is at most {REASON_MAX} characters")
        current = (await self.store.states()).get(switch.name) or SwitchState(name=switch.name)
        if current.engaged == engaged:
            raise KillSwitchUnchangedError(
                f"{name!r} is already {'engaged' if engaged else 'released'}",
                name=name,
            )
        state = SwitchState(
            name=switch.name, engaged=engaged, reason=reason, changed_by=actor, changed_at=now
        )
        await self.store.set(state)
        return state
