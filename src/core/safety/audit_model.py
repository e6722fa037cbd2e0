"""The audit log's values: records, entries, filters, verification results, pages, and
their errors (``audit.py`` has the whole story)."""

from __future__ import annotations

from typing import Any

import msgspec

from core.kernel import NotFoundError, ValidationError
from core.kernel.events import AwareDatetime
from core.safety.context import ActorType, RequestContext

GENESIS_HASH = "0" * 64
PSEUDONYMIZED = "audit.pseudonymized"
ACTION_MAX = 64
ID_MAX = 64
REASON_MAX = 1000
USER_AGENT_MAX = 400
IP_MAX = 64
PAGE_MAX = 200

# Event fields that are the entry's own columns, not its ``after``.
_EVENT_OWN_FIELDS = frozenset({"occurred_at", "workspace_id", "before", "after", "reason"})

_canonical = msgspec.json.Encoder(order="sorted")


class AuditRecord(msgspec.Struct, frozen=True, kw_only=True):
    """What a caller asks to record. Who acted and from where comes from the request
    context (``core.safety.context``) as it is when the entry is written, unless
    ``context`` is given; ``actor_type`` and ``actor_id`` override the context's actor
    (a sign-in acts as the user it signs in); ``workspace_id`` defaults to the
    context's."""

    action: str  # "member.role_changed", "auth.sign_in_failed", ...
    target_type: str | None = None
    target_id: str | None = None
    workspace_id: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    reason: str | None = None
    at: AwareDatetime | None = None
    actor_type: ActorType | None = None  # instead of the context's (a sign-in's user)
    actor_id: str | None = None
    context: RequestContext | None = None


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One entry as stored. ``salt`` and ``personal_digest`` bind the personal fields
    to the chain; ``pseudonymized_by`` is the seq of the pseudonymization entry that
    last rewrote them (None: never rewritten)."""

    id: str
    seq: int
    at: AwareDatetime
    action: str
    actor_type: ActorType
    actor_id: str | None = None
    impersonator_id: str | None = None
    workspace_id: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    reason: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None
    salt: str | None = None
    personal_digest: str
    pseudonymized_by: int | None = None
    prev_hash: str
    hash: str


class AuditFilter(msgspec.Struct, frozen=True, kw_only=True):
    """What to read: every given field must match (``action`` ending in ``.*`` matches
    a prefix: ``member.*``); times are ``since <= at < until``."""

    actor_id: str | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    workspace_id: str | None = None
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None


class AuditBreak(msgspec.Struct, frozen=True, kw_only=True):
    """The first entry where the chain does not hold, and why."""

    seq: int
    entry_id: str | None
    problem: str


class AuditVerification(msgspec.Struct, frozen=True, kw_only=True):
    entries: int  # how many were checked
    head_seq: int
    head_hash: str
    broken: AuditBreak | None = None

    @property
    def intact(self) -> bool:
        return self.broken is None


class AuditPage(msgspec.Struct, frozen=True, kw_only=True):
    entries: list[AuditEntry]
    next_cursor: str | None  # the seq to pass back as ``cursor``: newest first


class InvalidAuditCursorError(ValidationError):
    type = "safety/invalid-audit-cursor"
    title = "This is not a cursor the audit log answered."


class NothingToPseudonymizeError(NotFoundError):
    type = "safety/nothing-to-pseudonymize"
    title = "No audit entry names this user."
