"""The audit log's hash chain: sealing, verification naming the first broken entry, and
pseudonymization that erases a user and keeps the chain verifiable."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import msgspec
import pytest

from adapters.memory.audit import InMemoryAuditStore
from contracts.ports.audit_store import AuditStoreContract
from core.kernel import DomainEvent, FixedClock, IdGenerator
from core.safety import ActorType, AuditEntry, AuditLog, AuditRecord, RequestContext, verify
from core.safety.audit import (
    GENESIS_HASH,
    PSEUDONYMIZED,
    chain,
    entry_hash,
    names,
    pseudonymization,
    record_of,
    superseded_by,
)

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
ALICE = RequestContext(
    actor_type=ActorType.USER,
    actor_id="usr_alice",
    ip="203.0.113.7",
    user_agent="Firefox",
    request_id="req-1",
)
BOB = RequestContext(actor_type=ActorType.USER, actor_id="usr_bob", ip="198.51.100.2")
STAFF = RequestContext(actor_type=ActorType.STAFF, actor_id="usr_staff")


def _log(*records: AuditRecord, after: list[AuditEntry] | None = None) -> list[AuditEntry]:
    entries = list(after or [])
    head_seq, head_hash = (entries[-1].seq, entries[-1].hash) if entries else (0, GENESIS_HASH)
    return entries + chain(
        list(records), head_seq=head_seq, head_hash=head_hash, ids=IdGenerator(), now=NOW
    )


def _sample() -> list[AuditEntry]:
    return _log(
        AuditRecord(
            action="auth.signed_in", target_type="user", target_id="usr_alice", context=ALICE
        ),
        AuditRecord(
            action="member.role_changed",
            workspace_id="ws_1",
            target_type="user",
            target_id="usr_bob",
            after={"role": "admin"},
            context=ALICE,
        ),
        AuditRecord(action="api_key.created", workspace_id="ws_1", context=BOB),
        AuditRecord(
            action="user.banned",
            target_type="user",
            target_id="usr_bob",
            reason="fraud",
            context=STAFF,
        ),
    )


def _replace(entry: AuditEntry, **changes: object) -> AuditEntry:
    return msgspec.structs.replace(entry, **changes)


def test_each_entry_carries_the_hash_of_the_one_before() -> None:
    entries = _sample()

    assert [e.seq for e in entries] == [1, 2, 3, 4]
    assert entries[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    assert verify(entries) is None


def test_an_entry_is_stamped_with_the_request_context() -> None:
    entry = _sample()[0]

    assert (entry.actor_type, entry.actor_id) == (ActorType.USER, "usr_alice")
    assert (entry.ip, entry.user_agent, entry.request_id) == ("203.0.113.7", "Firefox", "req-1")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("action", "member.removed"),  # a public field
        ("at", NOW + timedelta(seconds=1)),
        ("actor_id", "usr_mallory"),  # a personal field
        ("after", {"role": "owner"}),
        ("ip", "10.0.0.1"),
    ],
)
def test_verify_names_the_entry_whose_field_was_changed(field: str, value: object) -> None:
    entries = _sample()
    entries[1] = _replace(entries[1], **{field: value})

    broken = verify(entries)

    assert broken is not None
    assert (broken.seq, broken.entry_id) == (2, entries[1].id)


def test_a_rehashed_entry_breaks_the_link_to_the_next_one() -> None:
    entries = _sample()
    forged = _replace(entries[1], action="member.removed")
    entries[1] = _replace(forged, hash=entry_hash(forged))

    broken = verify(entries)

    assert broken is not None
    assert broken.seq == 3
    assert "prev_hash" in broken.problem


def test_a_deleted_entry_is_named_by_the_entry_after_the_gap() -> None:
    entries = _sample()
    del entries[1]

    broken = verify(entries)

    assert broken is not None
    assert broken.seq == 3
    assert "missing" in broken.problem


def test_a_deleted_last_entry_shows_against_the_head() -> None:
    entries = _sample()
    head = (entries[-1].seq, entries[-1].hash)

    broken = verify(entries[:-1], head=head)

    assert broken is not None
    assert broken.seq == 4
    assert broken.entry_id is None


def test_reordered_entries_are_named() -> None:
    entries = _sample()
    entries[1], entries[2] = entries[2], entries[1]

    broken = verify(entries)

    assert broken is not None
    assert broken.seq == 3  # found in the second place


def test_swapped_seqs_break_the_chain() -> None:
    entries = _sample()
    entries[1], entries[2] = _replace(entries[2], seq=2), _replace(entries[1], seq=3)

    broken = verify(entries)

    assert broken is not None
    assert broken.seq == 2


def _pseudonymize(entries: list[AuditEntry], user_id: str, pseudonym: str) -> list[AuditEntry]:
    """What the store does: rewrite the entries naming the user, take over earlier
    pseudonymizations' entries, append the vouching entry."""
    named = [e for e in entries if names(e, user_id)]
    superseded = set(superseded_by(named))
    held_before = [e for e in entries if e.pseudonymized_by in superseded]
    change = pseudonymization(
        named,
        held_before,
        user_id=user_id,
        pseudonym=pseudonym,
        head_seq=entries[-1].seq,
        head_hash=entries[-1].hash,
        ids=IdGenerator(),
        now=NOW,
        context=STAFF,
    )
    by_seq = {e.seq: e for e in [*change.rewritten, *change.taken_over]}
    return [by_seq.get(e.seq, e) for e in entries] + [change.entry]


def test_pseudonymization_erases_the_user_and_keeps_the_chain_verifiable() -> None:
    entries = _pseudonymize(_sample(), "usr_alice", "deleted_1")

    assert verify(entries) is None
    assert not any(names(e, "usr_alice") for e in entries)
    first = entries[0]
    assert (first.actor_id, first.target_id, first.ip, first.user_agent) == (
        "deleted_1",
        "deleted_1",
        None,
        None,
    )
    assert first.salt is None
    vouching = entries[-1]
    assert vouching.action == PSEUDONYMIZED
    assert vouching.after is not None
    assert vouching.after["entries"] == 2


def test_a_pseudonymized_entry_changed_afterwards_is_caught() -> None:
    entries = _pseudonymize(_sample(), "usr_alice", "deleted_1")
    entries[1] = _replace(entries[1], after={"role": "owner"})

    broken = verify(entries)

    assert broken is not None
    assert broken.seq == 5  # the pseudonymization no longer vouches for its entries
    assert "rewrote" in broken.problem


def test_unmarking_a_pseudonymized_entry_is_caught() -> None:
    entries = _pseudonymize(_sample(), "usr_alice", "deleted_1")
    entries[0] = _replace(entries[0], pseudonymized_by=None)

    broken = verify(entries)

    assert broken is not None
    assert broken.seq == 1


def test_a_second_pseudonymization_takes_over_the_first_ones_entries() -> None:
    # Entry 2 names both Alice (actor) and Bob (target).
    entries = _pseudonymize(_sample(), "usr_alice", "deleted_1")
    entries = _pseudonymize(entries, "usr_bob", "deleted_2")

    assert verify(entries) is None
    assert entries[1].actor_id == "deleted_1"
    assert entries[1].target_id == "deleted_2"
    assert entries[-1].after is not None
    assert entries[-1].after["supersedes"] == [5]
    assert {e.pseudonymized_by for e in entries[:4]} == {6}


def test_a_user_named_nowhere_gives_nothing_to_pseudonymize() -> None:
    assert not any(names(e, "usr_nobody") for e in _sample())


class _RoleChanged(DomainEvent, frozen=True, kw_only=True):
    name: ClassVar[str] = "test.role_changed"
    audit_action: ClassVar[str | None] = "member.role_changed"
    audit_target: ClassVar[tuple[str, str] | None] = ("user", "user_id")

    workspace_id: str
    user_id: str
    role: str
    reason: str | None = None


class _Quiet(DomainEvent, frozen=True, kw_only=True):
    name: ClassVar[str] = "test.quiet"


def test_an_event_declaring_an_audit_action_is_a_record() -> None:
    event = _RoleChanged(
        occurred_at=NOW, workspace_id="ws_1", user_id="usr_bob", role="admin", reason="promoted"
    )

    record = record_of(event)

    assert record is not None
    assert (record.action, record.target_type, record.target_id) == (
        "member.role_changed",
        "user",
        "usr_bob",
    )
    assert (record.workspace_id, record.after, record.reason) == (
        "ws_1",
        {"role": "admin"},
        "promoted",
    )
    assert record.at == NOW
    assert record_of(_Quiet(occurred_at=NOW)) is None


def test_pseudonymizing_an_email_leaves_longer_addresses_alone() -> None:
    entries = _log(
        AuditRecord(
            action="member.invited",
            after={"emails": ["bob@example.com", "jimbob@example.com", "bob@example.com.au"]},
            reason="asked by bob@example.com.",
        )
    )

    entries = _pseudonymize(entries, "bob@example.com", "deleted@invalid")

    assert entries[0].after == {
        "emails": ["deleted@invalid", "jimbob@example.com", "bob@example.com.au"]
    }
    assert entries[0].reason == "asked by deleted@invalid."
    assert verify(entries) is None


def test_an_id_is_not_found_inside_a_longer_one() -> None:
    (entry,) = _log(AuditRecord(action="user.banned", target_type="user", target_id="usr_12"))

    assert not names(entry, "usr_1")
    assert names(entry, "usr_12")


class TestInMemoryAuditStore(AuditStoreContract):
    @pytest.fixture
    def audit_store(self) -> InMemoryAuditStore:
        return InMemoryAuditStore()


async def test_the_log_verifies_what_its_store_holds_and_names_a_tampered_entry() -> None:
    store = InMemoryAuditStore()
    log = AuditLog(store, FixedClock())
    for n in range(3):
        await log.record(AuditRecord(action="test.entry", target_id=str(n), context=ALICE))
    intact = await log.verify()
    store.tamper(2, reason="rewritten")

    broken = await log.verify()

    assert (intact.intact, intact.entries, intact.head_seq) == (True, 3, 3)
    assert broken.broken is not None
    assert broken.broken.seq == 2
