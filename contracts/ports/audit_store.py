"""Conformance of an ``AuditStore``: where the audit log keeps its hash-chained entries.

Provide a fixture ``audit_store``: the adapter, bound to one open unit of work (for
SQL, a session that is never committed: everything is read back in it), on an empty
log.

The store seals what it is given after its head, in order (seq 1, 2, 3 …, each entry's
``prev_hash`` the hash of the one before), and reads entries back equal to what it
sealed, times in UTC: ``verify`` holds over what it scans. ``page`` answers newest
first, ``scan`` oldest first, both filtered the same way. Pseudonymization rewrites
every entry naming a value, keeps the chain verifiable and appends the entry vouching
for them; a value no entry names changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from core.safety import ActorType, AuditFilter, AuditRecord, AuditStore, RequestContext, verify
from core.safety.audit import GENESIS_HASH, PSEUDONYMIZED, AuditEntry

T0 = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
ADA = RequestContext(
    actor_type=ActorType.USER,
    actor_id="usr_contract_ada",
    ip="203.0.113.9",
    user_agent="Contract/1.0",
    request_id="req-contract-1",
    workspace_id="ws_contract_1",
)


def a_record(
    action: str = "member.added",
    *,
    minutes: int = 0,
    target_type: str | None = None,
    target_id: str | None = None,
    workspace_id: str | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
) -> AuditRecord:
    return AuditRecord(
        action=action,
        at=T0 + timedelta(minutes=minutes),
        context=ADA,
        target_type=target_type,
        target_id=target_id,
        workspace_id=workspace_id,
        after=after,
        reason=reason,
    )


async def _all(store: AuditStore, where: AuditFilter | None = None) -> list[AuditEntry]:
    return [entry async for entry in store.scan(where)]


class AuditStoreContract:
    async def test_an_empty_log_has_the_genesis_head(self, audit_store: AuditStore) -> None:
        assert await audit_store.head() == (0, GENESIS_HASH)
        assert await _all(audit_store) == []

    async def test_appended_entries_chain_and_read_back_equal(
        self, audit_store: AuditStore
    ) -> None:
        appended = await audit_store.append(
            [
                a_record(target_type="user", target_id="usr_x", after={"role": "admin"}),
                a_record("member.removed", minutes=1, reason="left"),
            ],
            T0,
        )
        more = await audit_store.append([a_record("api_key.created", minutes=2)], T0)

        entries = await _all(audit_store)
        assert entries == [*appended, *more]
        assert [e.seq for e in appended + more] == [1, 2, 3]
        assert appended[0].prev_hash == GENESIS_HASH
        assert more[0].prev_hash == appended[1].hash
        assert await audit_store.head() == (3, more[0].hash)
        assert verify(appended + more, head=(3, more[0].hash)) is None
        first = appended[0]
        assert (first.actor_type, first.actor_id, first.ip, first.user_agent) == (
            ActorType.USER,
            "usr_contract_ada",
            "203.0.113.9",
            "Contract/1.0",
        )
        assert (first.request_id, first.workspace_id, first.at) == (
            "req-contract-1",
            "ws_contract_1",
            T0,
        )
        assert first.after == {"role": "admin"}

    async def test_pages_go_newest_first_below_a_seq(self, audit_store: AuditStore) -> None:
        await audit_store.append([a_record(minutes=n) for n in range(5)], T0)

        first = await audit_store.page(AuditFilter(), before_seq=None, limit=2)
        below = await audit_store.page(AuditFilter(), before_seq=first[-1].seq, limit=10)

        assert [e.seq for e in first] == [5, 4]
        assert [e.seq for e in below] == [3, 2, 1]

    async def test_filters_by_actor_action_target_workspace_and_time(
        self, audit_store: AuditStore
    ) -> None:
        other = RequestContext(actor_type=ActorType.STAFF, actor_id="usr_contract_sam")
        await audit_store.append(
            [
                a_record("member.added", target_type="user", target_id="usr_1"),
                a_record("member.role_changed", minutes=1, target_type="user", target_id="usr_2"),
                a_record("api_key.created", minutes=2, workspace_id="ws_contract_2"),
                AuditRecord(action="user.banned", at=T0 + timedelta(minutes=3), context=other),
            ],
            T0,
        )

        async def actions(where: AuditFilter) -> list[str]:
            paged = await audit_store.page(where, before_seq=None, limit=10)
            scanned = [e.action async for e in audit_store.scan(where)]
            assert [e.action for e in reversed(paged)] == scanned
            return scanned

        assert await actions(AuditFilter(action="member.*")) == [
            "member.added",
            "member.role_changed",
        ]
        assert await actions(AuditFilter(action="member.added")) == ["member.added"]
        assert await actions(AuditFilter(actor_id="usr_contract_sam")) == ["user.banned"]
        assert await actions(AuditFilter(target_type="user", target_id="usr_2")) == [
            "member.role_changed"
        ]
        assert await actions(AuditFilter(workspace_id="ws_contract_2")) == ["api_key.created"]
        window = AuditFilter(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=3))
        assert await actions(window) == ["member.role_changed", "api_key.created"]

    async def test_pseudonymization_rewrites_and_stays_verifiable(
        self, audit_store: AuditStore
    ) -> None:
        await audit_store.append(
            [
                a_record("auth.signed_in", target_type="user", target_id="usr_contract_ada"),
                a_record("member.added", minutes=1, after={"by": "usr_contract_ada"}),
                AuditRecord(action="user.banned", at=T0, context=RequestContext()),
            ],
            T0,
        )

        vouching = await audit_store.pseudonymize("usr_contract_ada", "deleted_c0ffee", T0)
        nothing = await audit_store.pseudonymize("usr_contract_nobody", "deleted_0", T0)

        entries = await _all(audit_store)
        assert nothing is None
        assert vouching is not None
        assert vouching.action == PSEUDONYMIZED
        assert entries[-1] == vouching
        assert (entries[0].actor_id, entries[0].target_id, entries[0].ip) == (
            "deleted_c0ffee",
            "deleted_c0ffee",
            None,
        )
        assert entries[1].after == {"by": "deleted_c0ffee"}
        assert entries[2].pseudonymized_by is None
        assert verify(entries, head=await audit_store.head()) is None
