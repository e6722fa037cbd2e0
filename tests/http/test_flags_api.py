"""Feature flags over HTTP: staff manage them under ``/api/v1/admin/flags`` (read with
``safety:read``, change with ``safety:manage``, always with a reason, each change kept
with its before and after), scheduled changes are applied by the every-minute job, and
``GET /api/v1/flags`` answers a signed-in user's client-visible flags, evaluated."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from core.identity import StaffRole
from core.kernel import FixedClock
from core.workflows import Scheduler
from entrypoints.containers import ApplicationContainer
from entrypoints.jobs import schedules
from entrypoints.safety.flags_jobs import flag_schedules
from entrypoints.testing.people import Person, person, workspace_of
from entrypoints.testing.workflows import run_jobs
from entrypoints.worker import open_queue_for

BASE = "https://ninefold.dev/problems/"
ADMIN = "/api/v1/admin/flags"
ENV = "test"


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def problem(response: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["type"] == BASE + kind, body
    return body


async def staff(
    client: httpx.AsyncClient, container: ApplicationContainer, name: str, role: StaffRole
) -> Person:
    who = await person(client, container, name)
    async with container.unit_of_work() as uow:
        await container.identity.staff(uow=uow).set_staff_role(who.email, role)
        await uow.commit()
    return who


@pytest.fixture
async def ops(client: httpx.AsyncClient, container: ApplicationContainer) -> Person:
    return await staff(client, container, "olga", StaffRole.OPS)


def beta(**env: Any) -> dict[str, Any]:
    return {
        "key": "beta-dashboard",
        "description": "The new dashboard",
        "client_visible": True,
        "environments": {ENV: {"enabled": False, **env}},
        "reason": "launch plan",
    }


async def create(client: httpx.AsyncClient, ops: Person, **env: Any) -> dict[str, Any]:
    body: dict[str, Any] = ok(await client.post(ADMIN, json=beta(**env), headers=ops.headers), 201)
    return body


async def test_staff_create_a_flag_and_read_it_with_its_history(
    client: httpx.AsyncClient, ops: Person
) -> None:
    created = await create(client, ops)

    detail = ok(await client.get(f"{ADMIN}/beta-dashboard", headers=ops.headers))

    assert created["version"] == 1
    assert [v["key"] for v in created["variants"]] == ["on", "off"]
    assert created["stale"] is False
    assert detail["flag"]["key"] == "beta-dashboard"
    [change] = detail["history"]
    assert (change["action"], change["actor"], change["reason"]) == (
        "created",
        ops.user_id,
        "launch plan",
    )
    assert change["before"] is None
    assert change["after"]["description"] == "The new dashboard"


async def test_every_change_needs_a_reason(client: httpx.AsyncClient, ops: Person) -> None:
    await create(client, ops)
    missing = {**beta(), "key": "other"}
    del missing["reason"]

    problem(
        await client.post(ADMIN, json=missing, headers=ops.headers), 422, "safety/reason-required"
    )
    problem(
        await client.patch(
            f"{ADMIN}/beta-dashboard", json={"description": "x", "reason": " "}, headers=ops.headers
        ),
        422,
        "safety/reason-required",
    )
    problem(
        await client.post(f"{ADMIN}/beta-dashboard/archive", json={}, headers=ops.headers),
        422,
        "safety/reason-required",
    )


async def test_an_update_is_kept_with_its_before_and_after_and_in_force_at_once(
    client: httpx.AsyncClient, container: ApplicationContainer, ops: Person
) -> None:
    await create(client, ops)
    user = await person(client, container, "uma")
    before = ok(await client.get("/api/v1/flags", headers=user.headers))

    updated = ok(
        await client.patch(
            f"{ADMIN}/beta-dashboard",
            json={
                "environments": {ENV: {"enabled": True, "default_variant": "on"}},
                "reason": "open to everyone",
                "version": 1,
            },
            headers=ops.headers,
        )
    )
    after = ok(await client.get("/api/v1/flags", headers=user.headers))
    history = ok(await client.get(f"{ADMIN}/beta-dashboard", headers=ops.headers))["history"]

    assert updated["version"] == 2
    assert before["flags"]["beta-dashboard"]["value"] is False
    assert after["flags"]["beta-dashboard"] == {
        "key": "beta-dashboard",
        "value": True,
        "variant": "on",
        "reason": "default",
        "rule": None,
        "value_type": "boolean",
        "stale": False,
    }
    assert after["environment"] == ENV
    change = history[0]
    assert change["reason"] == "open to everyone"
    assert change["before"]["environments"][ENV]["enabled"] is False
    assert change["after"]["environments"][ENV]["enabled"] is True


async def test_an_update_of_a_stale_version_is_a_conflict(
    client: httpx.AsyncClient, ops: Person
) -> None:
    await create(client, ops)
    body = {"description": "one", "reason": "r", "version": 1}
    ok(await client.patch(f"{ADMIN}/beta-dashboard", json=body, headers=ops.headers))

    problem(
        await client.patch(f"{ADMIN}/beta-dashboard", json=body, headers=ops.headers),
        409,
        "safety/flag-version-conflict",
    )


async def test_support_staff_read_flags_but_cannot_change_them(
    client: httpx.AsyncClient, container: ApplicationContainer, ops: Person
) -> None:
    await create(client, ops)
    support = await staff(client, container, "sam", StaffRole.SUPPORT)

    listed = ok(await client.get(ADMIN, headers=support.headers))
    refused = await client.post(
        f"{ADMIN}/beta-dashboard/archive", json={"reason": "r"}, headers=support.headers
    )

    assert [f["key"] for f in listed["flags"]] == ["beta-dashboard"]
    problem(refused, 403, "identity/staff-permission-denied")


async def test_the_staff_routes_are_hidden_from_users_and_closed_to_strangers(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    user = await person(client, container, "uma")

    assert (await client.get(ADMIN, headers=user.headers)).status_code == 404
    assert (await client.get(ADMIN)).status_code == 401
    assert (await client.get("/api/v1/flags")).status_code == 401


async def test_a_stale_flag_is_marked_and_can_be_listed_alone(
    client: httpx.AsyncClient, container: ApplicationContainer, clock: FixedClock, ops: Person
) -> None:
    await create(client, ops)
    clock.advance(timedelta(days=41))
    later = await staff(client, container, "otto", StaffRole.OPS)  # olga's session expired

    stale = ok(await client.get(f"{ADMIN}?stale=true", headers=later.headers))["flags"]

    assert [(f["key"], f["stale"]) for f in stale] == [("beta-dashboard", True)]


async def test_archived_flags_are_off_and_listed_only_when_asked(
    client: httpx.AsyncClient, container: ApplicationContainer, ops: Person
) -> None:
    await create(client, ops, enabled=True, default_variant="on")
    user = await person(client, container, "uma")

    ok(
        await client.post(
            f"{ADMIN}/beta-dashboard/archive", json={"reason": "done"}, headers=ops.headers
        )
    )
    listed = ok(await client.get(ADMIN, headers=ops.headers))["flags"]
    everything = ok(await client.get(f"{ADMIN}?archived=true", headers=ops.headers))["flags"]
    mine = ok(await client.get("/api/v1/flags", headers=user.headers))["flags"]

    assert listed == []
    assert everything[0]["archived_at"] is not None
    assert mine == {}


async def test_a_scheduled_change_is_applied_by_the_job_when_its_time_comes(
    client: httpx.AsyncClient, container: ApplicationContainer, clock: FixedClock, ops: Person
) -> None:
    await create(client, ops)
    at = clock.now() + timedelta(hours=1)
    scheduled = ok(
        await client.post(
            f"{ADMIN}/beta-dashboard/schedules",
            json={
                "apply_at": at.isoformat(),
                "change": {"environments": {ENV: {"enabled": True, "default_variant": "on"}}},
                "reason": "launch at noon",
            },
            headers=ops.headers,
        ),
        201,
    )
    scheduler = Scheduler(
        flag_schedules(),
        cron=container.workflows.cron(),
        open_queue=open_queue_for(container),
        clock=clock,
    )
    await scheduler.tick()
    await run_jobs(container)
    pending = ok(await client.get(f"{ADMIN}/beta-dashboard", headers=ops.headers))

    clock.advance(timedelta(hours=1, minutes=1))
    await scheduler.tick()
    await run_jobs(container)
    applied = ok(await client.get(f"{ADMIN}/beta-dashboard", headers=ops.headers))

    assert scheduled["state"] == "pending"
    assert [s["id"] for s in pending["schedules"]] == [scheduled["id"]]
    assert pending["flag"]["environments"][ENV]["enabled"] is False
    assert applied["schedules"] == []
    assert applied["flag"]["environments"][ENV]["enabled"] is True
    assert applied["history"][0]["schedule_id"] == scheduled["id"]
    assert applied["history"][0]["actor"] == ops.user_id
    assert container.safety.flags().is_enabled("beta-dashboard")
    assert {s.name for s in flag_schedules()} <= {s.name for s in schedules()}


async def test_a_scheduled_change_can_be_canceled(
    client: httpx.AsyncClient, clock: FixedClock, ops: Person
) -> None:
    await create(client, ops)
    scheduled = ok(
        await client.post(
            f"{ADMIN}/beta-dashboard/schedules",
            json={
                "apply_at": (clock.now() + timedelta(hours=1)).isoformat(),
                "change": {"description": "later"},
                "reason": "r",
            },
            headers=ops.headers,
        ),
        201,
    )

    canceled = ok(
        await client.post(
            f"{ADMIN}/beta-dashboard/schedules/{scheduled['id']}/cancel",
            json={"reason": "not needed"},
            headers=ops.headers,
        )
    )

    assert canceled["state"] == "canceled"


async def test_segments_are_reused_by_flags_and_kept_while_used(
    client: httpx.AsyncClient, container: ApplicationContainer, ops: Person
) -> None:
    ok(
        await client.post(
            f"{ADMIN}/segments",
            json={
                "key": "example-staff",
                "constraints": [
                    {"attribute": "user_id", "operator": "in", "values": ["usr_nobody"]}
                ],
                "reason": "testers",
            },
            headers=ops.headers,
        ),
        201,
    )
    user = await person(client, container, "uma")
    ok(
        await client.patch(
            f"{ADMIN}/segments/example-staff",
            json={
                "constraints": [
                    {"attribute": "user_id", "operator": "in", "values": [user.user_id]}
                ],
                "reason": "add uma",
            },
            headers=ops.headers,
        )
    )
    await create(client, ops, enabled=True, rules=[{"segments": ["example-staff"]}])

    mine = ok(await client.get("/api/v1/flags", headers=user.headers))["flags"]
    refused = await client.post(
        f"{ADMIN}/segments/example-staff/delete", json={"reason": "cleanup"}, headers=ops.headers
    )
    segment = ok(await client.get(f"{ADMIN}/segments/example-staff", headers=ops.headers))

    assert (mine["beta-dashboard"]["value"], mine["beta-dashboard"]["reason"]) == (True, "rule")
    problem(refused, 409, "safety/segment-in-use")
    assert [c["action"] for c in segment["history"]] == ["updated", "created"]


async def test_my_flags_for_a_workspace_use_its_plan_and_only_mine(
    client: httpx.AsyncClient, container: ApplicationContainer, ops: Person
) -> None:
    await create(
        client,
        ops,
        enabled=True,
        rules=[{"constraints": [{"attribute": "plan", "operator": "in", "values": ["free"]}]}],
    )
    owner = await person(client, container, "owen")
    stranger = await person(client, container, "sid")
    ws = await workspace_of(client, owner)

    with_plan = ok(await client.get(f"/api/v1/flags?workspace_id={ws}", headers=owner.headers))
    without = ok(await client.get("/api/v1/flags", headers=owner.headers))
    foreign = await client.get(f"/api/v1/flags?workspace_id={ws}", headers=stranger.headers)

    assert with_plan["flags"]["beta-dashboard"]["value"] is True
    assert without["flags"]["beta-dashboard"]["value"] is False
    assert foreign.status_code == 404


async def test_flags_not_marked_client_visible_stay_on_the_server(
    client: httpx.AsyncClient, container: ApplicationContainer, ops: Person
) -> None:
    ok(
        await client.post(
            ADMIN, json={**beta(), "key": "internal", "client_visible": False}, headers=ops.headers
        ),
        201,
    )
    user = await person(client, container, "uma")

    assert ok(await client.get("/api/v1/flags", headers=user.headers))["flags"] == {}


async def test_staff_evaluate_a_flag_for_a_context(client: httpx.AsyncClient, ops: Person) -> None:
    await create(
        client,
        ops,
        enabled=True,
        overrides=[{"attribute": "user_id", "values": ["usr_vip"], "variant": "on"}],
    )

    result = ok(
        await client.post(
            f"{ADMIN}/beta-dashboard/evaluate",
            json={"context": {"user_id": "usr_vip"}},
            headers=ops.headers,
        )
    )

    assert (result["value"], result["reason"]) == (True, "override")


async def test_an_invalid_definition_is_refused_with_what_is_wrong(
    client: httpx.AsyncClient, ops: Person
) -> None:
    body = beta(rules=[{"variant": "maybe"}])

    found = problem(
        await client.post(ADMIN, json=body, headers=ops.headers), 422, "safety/invalid-flag"
    )

    assert "maybe" in found["detail"]


async def test_a_change_is_an_audit_log_entry_with_the_staff_member_and_reason(
    client: httpx.AsyncClient, container: ApplicationContainer, ops: Person
) -> None:
    from sqlalchemy import select

    from adapters.sql.safety.audit_tables import audit_entries

    await create(client, ops)
    ok(
        await client.patch(
            f"{ADMIN}/beta-dashboard",
            json={"description": "renamed", "reason": "clearer name"},
            headers=ops.headers,
        )
    )

    async with container.unit_of_work() as uow:
        rows = (
            await uow.session.execute(
                select(audit_entries).where(audit_entries.c.target_type == "flag")
            )
        ).all()

    found = {(r.action, r.actor_id, r.target_id, r.reason) for r in rows}
    assert ("flag.created", ops.user_id, "beta-dashboard", "launch plan") in found
    assert ("flag.updated", ops.user_id, "beta-dashboard", "clearer name") in found
