"""The audit log's chain: the canonical form of an entry, sealing and chaining, the
verification that names the first broken entry, and pseudonymization that keeps the
chain verifiable (``audit.py`` explains how)."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec

from core.kernel import IdGenerator
from core.kernel.events import DomainEvent
from core.safety.audit_model import (
    _EVENT_OWN_FIELDS,
    ACTION_MAX,
    GENESIS_HASH,
    IP_MAX,
    PSEUDONYMIZED,
    REASON_MAX,
    USER_AGENT_MAX,
    AuditBreak,
    AuditEntry,
    AuditRecord,
    AuditVerification,
    _canonical,
)
from core.safety.context import RequestContext, current_context

# --- the canonical form and the chain -------------------------------------------------


def _utc(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _personal(entry_fields: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "actor_id": entry_fields["actor_id"],
        "impersonator_id": entry_fields["impersonator_id"],
        "target_id": entry_fields["target_id"],
        "ip": entry_fields["ip"],
        "user_agent": entry_fields["user_agent"],
        "before": entry_fields["before"],
        "after": entry_fields["after"],
        "reason": entry_fields["reason"],
    }


def personal_digest(entry: AuditEntry | Mapping[str, Any]) -> str:
    """SHA-256 of the salt and the personal fields in canonical form."""
    fields = msgspec.structs.asdict(entry) if isinstance(entry, AuditEntry) else entry
    salt = fields["salt"] or ""
    return hashlib.sha256(salt.encode() + _canonical.encode(_personal(fields))).hexdigest()


def entry_hash(entry: AuditEntry | Mapping[str, Any]) -> str:
    """SHA-256 of the previous hash and the entry's public fields in canonical form
    (sorted keys, UTC time to the microsecond), its personal digest among them."""
    fields = msgspec.structs.asdict(entry) if isinstance(entry, AuditEntry) else entry
    public = {
        "id": fields["id"],
        "seq": fields["seq"],
        "at": _utc(fields["at"]),
        "action": fields["action"],
        "actor_type": str(fields["actor_type"]),
        "workspace_id": fields["workspace_id"],
        "target_type": fields["target_type"],
        "request_id": fields["request_id"],
        "personal_digest": fields["personal_digest"],
    }
    return hashlib.sha256(fields["prev_hash"].encode() + _canonical.encode(public)).hexdigest()


def _json_object(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``value`` as plain JSON (times as strings), so what is hashed is what is read."""
    if value is None:
        return None
    plain: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(value))
    return plain


def _clip(value: str | None, limit: int) -> str | None:
    return value[:limit] if value else None


def seal(
    record: AuditRecord,
    *,
    entry_id: str,
    seq: int,
    prev_hash: str,
    now: datetime,
    salt: str | None = None,
) -> AuditEntry:
    """The entry ``record`` becomes at ``seq`` after an entry hashed ``prev_hash``."""
    context = record.context or current_context()
    actor_type, actor_id = context.actor_type, context.actor_id
    if record.actor_type is not None:
        actor_type, actor_id = record.actor_type, record.actor_id
    fields: dict[str, Any] = {
        "id": entry_id,
        "seq": seq,
        "at": (record.at or now).astimezone(UTC),
        "action": record.action[:ACTION_MAX],
        "actor_type": actor_type,
        "actor_id": actor_id,
        "impersonator_id": context.impersonator_id,
        "workspace_id": record.workspace_id or context.workspace_id,
        "target_type": record.target_type,
        "target_id": record.target_id,
        "before": _json_object(record.before),
        "after": _json_object(record.after),
        "reason": _clip(record.reason, REASON_MAX),
        "ip": _clip(context.ip, IP_MAX),
        "user_agent": _clip(context.user_agent, USER_AGENT_MAX),
        "request_id": context.request_id,
        "salt": salt if salt is not None else secrets.token_hex(16),
        "pseudonymized_by": None,
        "prev_hash": prev_hash,
    }
    fields["personal_digest"] = personal_digest(fields)
    fields["hash"] = entry_hash(fields)
    return AuditEntry(**fields)


def chain(
    records: Sequence[AuditRecord],
    *,
    head_seq: int,
    head_hash: str,
    ids: IdGenerator,
    now: datetime,
) -> list[AuditEntry]:
    """``records`` sealed one after the other after the head."""
    entries: list[AuditEntry] = []
    for record in records:
        entry = seal(
            record,
            entry_id=ids.new("aud", record.at or now),
            seq=head_seq + 1,
            prev_hash=head_hash,
            now=now,
        )
        entries.append(entry)
        head_seq, head_hash = entry.seq, entry.hash
    return entries


def record_of(event: DomainEvent) -> AuditRecord | None:
    """The audit record an event is, or None when its type declares no ``audit_action``.

    The target is ``audit_target``'s type and the value of its id field; the event's
    ``before``, ``after`` and ``reason`` fields are the entry's; its other fields (less
    the time, the workspace and the target's id) are the ``after`` of an event that has
    no ``after`` of its own."""
    action = type(event).audit_action
    if not action:
        return None
    payload = msgspec.to_builtins(event)
    target = type(event).audit_target
    target_id = str(payload.get(target[1])) if target and payload.get(target[1]) else None
    rest = {
        key: value
        for key, value in payload.items()
        if key not in _EVENT_OWN_FIELDS and (target is None or key != target[1])
    }
    after = payload.get("after")
    return AuditRecord(
        action=action,
        target_type=target[0] if target else None,
        target_id=target_id,
        workspace_id=event.workspace_id,
        before=payload.get("before"),
        after=after if after is not None else (rest or None),
        reason=payload.get("reason"),
        at=event.occurred_at,
    )


# --- verification ------------------------------------------------------------------------


def pseudonymized_digest(entries: Iterable[AuditEntry]) -> str:
    """What a pseudonymization entry records of the entries it holds: a digest over
    their seqs and personal digests, in seq order."""
    digest = hashlib.sha256()
    for entry in sorted(entries, key=lambda e: e.seq):
        digest.update(f"{entry.seq}:{personal_digest(entry)};".encode())
    return digest.hexdigest()


class ChainVerifier:
    """Checks entries fed in seq order; ``broken`` is the first break found."""

    def __init__(self) -> None:
        self.count = 0
        self.head_seq = 0
        self.head_hash = GENESIS_HASH
        self.broken: AuditBreak | None = None
        self._held: dict[int, list[AuditEntry]] = {}  # pseudonymization seq -> its entries
        self._must_be_superseded: dict[int, AuditEntry] = {}

    def _break(self, entry: AuditEntry, problem: str) -> None:
        if self.broken is None:
            self.broken = AuditBreak(seq=entry.seq, entry_id=entry.id, problem=problem)

    def feed(self, entry: AuditEntry) -> bool:
        """Check one more entry; False once the chain is broken."""
        if self.broken is not None:
            return False
        self.count += 1
        if entry.seq != self.head_seq + 1:
            missing = "missing" if entry.seq > self.head_seq + 1 else "out of order"
            self._break(
                entry,
                f"entry seq {entry.seq} follows seq {self.head_seq}: an entry is {missing}",
            )
        elif entry.prev_hash != self.head_hash:
            self._break(entry, "its prev_hash is not the hash of the entry before it")
        elif entry_hash(entry) != entry.hash:
            self._break(entry, "its public fields do not match its hash")
        elif entry.pseudonymized_by is None:
            if personal_digest(entry) != entry.personal_digest:
                self._break(entry, "its personal fields do not match their digest")
        elif entry.pseudonymized_by <= entry.seq:
            self._break(entry, "it names a pseudonymization that precedes it")
        else:
            self._held.setdefault(entry.pseudonymized_by, []).append(entry)
        if self.broken is None and entry.action == PSEUDONYMIZED:
            self._check_pseudonymization(entry)
        elif self.broken is None and entry.seq in self._held:
            self._break(self._held[entry.seq][0], "it names an entry that pseudonymized nothing")
        self.head_seq, self.head_hash = entry.seq, entry.hash
        return self.broken is None

    def _check_pseudonymization(self, entry: AuditEntry) -> None:
        after = entry.after or {}
        for superseded in after.get("supersedes") or ():
            self._must_be_superseded.pop(int(superseded), None)
        held = self._held.pop(entry.seq, [])
        if not held:
            # Its entries were all taken over by a later pseudonymization (or it wrote
            # none, which it says).
            if int(after.get("entries", 0)) > 0:
                self._must_be_superseded[entry.seq] = entry
            return
        if len(held) != int(after.get("entries", -1)):
            self._break(entry, f"it rewrote {after.get('entries')} entries but {len(held)} say so")
        elif pseudonymized_digest(held) != after.get("digest"):
            self._break(entry, "the entries it rewrote no longer hold what it recorded")

    def finish(self, head: tuple[int, str] | None = None) -> AuditVerification:
        """The outcome; ``head`` is the stored head (seq, hash) to compare the end with."""
        if self.broken is None and self._held:
            seq = min(self._held)
            self._break(self._held[seq][0], f"it names pseudonymization seq {seq}, which is absent")
        if self.broken is None and self._must_be_superseded:
            first = self._must_be_superseded[min(self._must_be_superseded)]
            self._break(first, "the entries it rewrote are gone")
        if self.broken is None and head is not None and head != (self.head_seq, self.head_hash):
            self.broken = AuditBreak(
                seq=self.head_seq + 1,
                entry_id=None,
                problem=(
                    f"the log ends at seq {self.head_seq} but its head is seq {head[0]}: "
                    "the last entries were removed or changed"
                ),
            )
        return AuditVerification(
            entries=self.count,
            head_seq=self.head_seq,
            head_hash=self.head_hash,
            broken=self.broken,
        )


def verify(entries: Iterable[AuditEntry], head: tuple[int, str] | None = None) -> AuditBreak | None:
    """The first entry where the chain breaks (``entries`` in seq order), or None."""
    verifier = ChainVerifier()
    for entry in entries:
        if not verifier.feed(entry):
            break
    return verifier.finish(head).broken


# --- pseudonymization --------------------------------------------------------------------


def _occurrences(value: str) -> re.Pattern[str]:
    """``value`` where it stands alone: not part of a longer id or address
    (``bob@example.com`` is not in ``jimbob@example.com``; ``usr_1`` not in ``usr_12``)."""
    return re.compile(rf"(?<![\w.%+\-@]){re.escape(value)}(?![\w\-@]|\.\w)")


def _replace_id(value: Any, pattern: re.Pattern[str], pseudonym: str) -> Any:
    if isinstance(value, str):
        return pattern.sub(pseudonym, value)
    if isinstance(value, list):
        return [_replace_id(item, pattern, pseudonym) for item in value]
    if isinstance(value, dict):
        return {key: _replace_id(item, pattern, pseudonym) for key, item in value.items()}
    return value


def rewrite(entry: AuditEntry, user_id: str, pseudonym: str, by_seq: int) -> AuditEntry:
    """``entry`` with ``user_id`` (an id or an email) replaced by ``pseudonym`` in its
    personal fields, its salt dropped, and marked as rewritten by the pseudonymization
    at ``by_seq``. Where the user acted, the address and user agent go too."""
    pattern = _occurrences(user_id)
    acted = user_id in (entry.actor_id, entry.impersonator_id)
    return msgspec.structs.replace(
        entry,
        actor_id=_replace_id(entry.actor_id, pattern, pseudonym),
        impersonator_id=_replace_id(entry.impersonator_id, pattern, pseudonym),
        target_id=_replace_id(entry.target_id, pattern, pseudonym),
        before=_replace_id(entry.before, pattern, pseudonym),
        after=_replace_id(entry.after, pattern, pseudonym),
        reason=_replace_id(entry.reason, pattern, pseudonym),
        ip=None if acted else entry.ip,
        user_agent=None if acted else entry.user_agent,
        salt=None,
        pseudonymized_by=by_seq,
    )


def names(entry: AuditEntry, user_id: str) -> bool:
    """Whether ``user_id`` (an id or an email) stands in the entry's personal fields."""
    pattern = _occurrences(user_id)
    texts = (
        entry.actor_id,
        entry.impersonator_id,
        entry.target_id,
        entry.reason,
        _canonical.encode([entry.before, entry.after]).decode(),
    )
    return any(text and pattern.search(text) for text in texts)


class Pseudonymization(msgspec.Struct, frozen=True, kw_only=True):
    """What erasing a user changes: the entries rewritten, those taken over from
    earlier pseudonymizations, and the new entry vouching for them all."""

    rewritten: list[AuditEntry]
    taken_over: list[AuditEntry]
    entry: AuditEntry


def superseded_by(named: Iterable[AuditEntry]) -> list[int]:
    """The earlier pseudonymizations whose entries a new one over ``named`` takes over."""
    return sorted({e.pseudonymized_by for e in named if e.pseudonymized_by is not None})


def pseudonymization(
    named: Sequence[AuditEntry],
    held_before: Iterable[AuditEntry],
    *,
    user_id: str,
    pseudonym: str,
    head_seq: int,
    head_hash: str,
    ids: IdGenerator,
    now: datetime,
    context: RequestContext | None = None,
) -> Pseudonymization:
    """Erase ``user_id`` from ``named`` (the entries naming it); ``held_before`` are the
    entries of the pseudonymizations ``superseded_by(named)`` lists, which the new one
    takes over so that its digest vouches for them all."""
    if not user_id or user_id == pseudonym:
        raise ValueError("pseudonymize needs a user id and a different pseudonym")
    by_seq = head_seq + 1
    rewritten = [rewrite(entry, user_id, pseudonym, by_seq) for entry in named]
    named_seqs = {entry.seq for entry in named}
    taken_over = [
        msgspec.structs.replace(entry, pseudonymized_by=by_seq)
        for entry in held_before
        if entry.seq not in named_seqs
    ]
    held = rewritten + taken_over
    record = AuditRecord(
        action=PSEUDONYMIZED,
        target_type="user",
        target_id=pseudonym,
        after={
            "pseudonym": pseudonym,
            "entries": len(held),
            "digest": pseudonymized_digest(held),
            "supersedes": superseded_by(named),
        },
        at=now,
        context=context or current_context(),
    )
    (entry,) = chain([record], head_seq=head_seq, head_hash=head_hash, ids=ids, now=now)
    return Pseudonymization(rewritten=rewritten, taken_over=taken_over, entry=entry)
