"""``ninefold audit verify|export``: the operator checks the hash chain (exit 1 naming
the first broken entry) and exports entries as JSON Lines. What a command records names
the operator as its actor."""

from __future__ import annotations

import asyncio

import msgspec
from sqlalchemy import update
from tests.cli.harness import Ninefold

from adapters.sql.safety.audit_tables import audit_entries
from entrypoints.containers import build_container, close_container
from entrypoints.settings import ensure_secret_key, load_settings

STRONG = "violet-kestrel-harbour-47"


def _create_staff(ninefold: Ninefold, email: str) -> None:
    created = ninefold(
        "staff", "create", email, "--role", "ops", "--password-stdin", stdin=STRONG + "\n"
    )
    assert created.code == 0, created.err


async def _tamper(seq: int) -> None:
    container = build_container(ensure_secret_key(load_settings()))
    try:
        async with container.unit_of_work() as uow:
            await uow.session.execute(
                update(audit_entries).where(audit_entries.c.seq == seq).values(action="forged")
            )
            await uow.session.commit()
    finally:
        await close_container(container)


def test_export_writes_json_lines_naming_the_operator(ninefold: Ninefold) -> None:
    _create_staff(ninefold, "ops@example.com")
    _create_staff(ninefold, "root@example.com")

    exported = ninefold("audit", "export", "--action", "staff.*")

    assert exported.code == 0, exported.err
    lines = [msgspec.json.decode(line) for line in exported.out.splitlines()]
    assert [line["action"] for line in lines] == ["staff.role_changed"] * 2
    assert lines[0]["actor_type"] == "system"
    assert lines[0]["actor_id"].startswith("cli:")
    assert lines[0]["after"] == {"from_role": None, "role": "ops"}
    assert "2 entries exported" in exported.err
    later = ninefold("audit", "export", "--from", "2100-01-01T00:00:00Z")
    assert (later.code, later.out) == (0, "")
    naive = ninefold("audit", "export", "--from", "2026-01-01T00:00:00")
    assert naive.code == 2


def test_verify_exits_1_naming_the_first_broken_entry(ninefold: Ninefold) -> None:
    _create_staff(ninefold, "ops@example.com")
    _create_staff(ninefold, "root@example.com")

    intact = ninefold("audit", "verify")
    asyncio.run(_tamper(1))
    broken = ninefold("audit", "verify")

    assert intact.code == 0, intact.err
    assert "audit log intact: 2 entries" in intact.out
    assert broken.code == 1
    assert "broken at entry seq 1" in broken.err
