"""Impersonation over HTTP: staff act as a user for a reason and a while; every response
carries the banner headers, the staff endpoints are closed to the impersonation session,
every request is recorded with both ids, stop returns to the staff session and the
impersonation ends by itself at its expiry."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import msgspec
import pytest
from sqlalchemy import select

from adapters.sql.workflows.tables import outbox
from core.identity import StaffRole
from core.kernel import FixedClock
from core.safety.audit import AuditEntry, AuditLog
from entrypoints.containers import ApplicationContainer, build_container, close_container
from entrypoints.http.app import create_app
from entrypoints.safety.impersonation_jobs import expire_impersonations
from entrypoints.settings import Settings
from entrypoints.testing.people import PASSWORD, Person, person, staff_member
from entrypoints.testing.plugin import serve_in_process, settings_with

ADMIN = "/api/v1/admin/impersonations"
STOP = "/api/v1/impersonation/stop"
BASE = "https://ninefold.dev/problems/"


@pytest.fixture
async def support(client: httpx.AsyncClient, container: ApplicationContainer) -> Person:
    return await staff_member(client, container, "support", StaffRole.SUPPORT)


@pytest.fixture
async def ada(client: httpx.AsyncClient, container: ApplicationContainer) -> Person:
    return await person(client, container, "ada")


async def start(
    client: httpx.AsyncClient, staff: Person, user_id: str, **body: Any
) -> httpx.Response:
    payload = {"user_id": user_id, "reason": "ticket 4521: invoices look wrong", **body}
    payload.setdefault("transport", "bearer")
    return await client.post(ADMIN, json=payload, headers=staff.headers)


async def started(client: httpx.AsyncClient, staff: Person, user_id: str, **body: Any) -> Any:
    response = await start(client, staff, user_id, **body)
    assert response.status_code == 201, response.text
    return response.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def events(container: ApplicationContainer, name: str) -> list[dict[str, Any]]:
    async with container.unit_of_work() as uow:
        rows = await uow.session.execute(
            select(outbox.c.payload).where(outbox.c.name == name).order_by(outbox.c.id)
        )
        return [msgspec.json.decode(row.payload) for row in rows]


async def audit_entries(container: ApplicationContainer, action: str) -> list[AuditEntry]:
    async with container.unit_of_work() as uow:
        log: AuditLog = container.safety.audit(uow=uow)
        return [entry async for entry in log.export() if entry.action == action]


async def test_support_acts_as_the_user_and_every_response_carries_the_banner_headers(
    client: httpx.AsyncClient, support: Person, ada: Person
) -> None:
    body = await started(client, support, ada.user_id, minutes=30)
    impersonation = body["impersonation"]
    as_ada = bearer(body["token"])

    me = await client.get("/api/v1/me", headers=as_ada)
    unknown = await client.get("/api/v1/nothing-here", headers=as_ada)

    assert impersonation["staff_id"] == support.user_id
    assert impersonation["user_id"] == ada.user_id
    assert impersonation["reason"] == "ticket 4521: invoices look wrong"
    assert impersonation["active"] is True
    assert me.status_code == 200, me.text
    assert me.json()["id"] == ada.user_id
    assert me.json()["impersonated_by"] == support.user_id
    for response in (me, unknown):
        assert response.headers["x-impersonation"] == impersonation["id"]
        assert response.headers["x-impersonator"] == support.user_id
        assert response.headers["x-impersonation-expires"].startswith("2030-01-01T00:30")
    assert unknown.status_code == 404
    # The user's own session and the staff member's are not marked.
    own = await client.get("/api/v1/me", headers=ada.headers)
    assert own.json()["impersonated_by"] is None
    assert "x-impersonation" not in own.headers
    assert "x-impersonation" not in (await client.get(ADMIN, headers=support.headers)).headers


async def test_a_session_cookie_is_recognised_however_odd_the_cookie_header(
    client: httpx.AsyncClient, container: ApplicationContainer, support: Person, ada: Person
) -> None:
    body = await started(client, support, ada.user_id)

    # A cookie header Python's own parser gives up on, but the app's does not: the
    # request must not pass unmarked and unrecorded.
    odd = await client.get(
        "/api/v1/me", headers={"Cookie": f'junk="x; nf_session={body["token"]}; other=1'}
    )

    assert odd.status_code == 200
    assert odd.json()["id"] == ada.user_id
    assert odd.headers["x-impersonation"] == body["impersonation"]["id"]
    [action] = await events(container, "safety.impersonated_action")
    assert action["path"] == "/api/v1/me"


async def test_ops_may_impersonate_too_for_at_most_an_hour_by_default(
    client: httpx.AsyncClient, container: ApplicationContainer, ada: Person
) -> None:
    ops = await staff_member(client, container, "ops", StaffRole.OPS)

    body = await started(client, ops, ada.user_id)

    assert body["impersonation"]["expires_at"] == "2030-01-01T01:00:00Z"


@pytest.mark.parametrize(
    ("body", "status", "problem"),
    [
        ({"reason": "   "}, 422, "safety/reason-required"),
        ({"minutes": 61}, 422, "safety/impersonation-too-long"),
        ({"minutes": 0}, 422, "safety/impersonation-too-long"),
        ({"user_id": "usr_nobody"}, 404, "identity/user-not-found"),
    ],
)
async def test_a_start_needs_a_reason_a_known_user_and_at_most_the_maximum(
    client: httpx.AsyncClient,
    support: Person,
    ada: Person,
    body: dict[str, Any],
    status: int,
    problem: str,
) -> None:
    body = dict(body)
    response = await start(client, support, body.pop("user_id", ada.user_id), **body)

    assert response.status_code == status, response.text
    assert response.json()["type"] == BASE + problem


async def test_staff_banned_users_and_oneself_cannot_be_impersonated(
    client: httpx.AsyncClient, container: ApplicationContainer, support: Person, ada: Person
) -> None:
    ops = await staff_member(client, container, "ops", StaffRole.OPS)
    banned = await client.post(
        f"/api/v1/admin/users/{ada.user_id}/ban", json={"reason": "spam"}, headers=ops.headers
    )
    assert banned.status_code == 200

    as_staff = await start(client, support, ops.user_id)
    as_banned = await start(client, support, ada.user_id)
    as_oneself = await start(client, support, support.user_id)

    assert (as_staff.status_code, as_staff.json()["type"]) == (
        403,
        BASE + "safety/impersonation-target-staff",
    )
    assert (as_banned.status_code, as_banned.json()["type"]) == (
        403,
        BASE + "safety/impersonation-target-banned",
    )
    assert (as_oneself.status_code, as_oneself.json()["type"]) == (
        403,
        BASE + "safety/impersonation-of-oneself",
    )
    assert await events(container, "safety.impersonation_started") == []


async def test_a_user_without_a_staff_role_gets_404_and_anonymous_401(
    client: httpx.AsyncClient, container: ApplicationContainer, ada: Person
) -> None:
    bob = await person(client, container, "bob")

    as_user = await start(client, bob, ada.user_id)
    anonymous = await client.post(ADMIN, json={"user_id": ada.user_id, "reason": "x"})

    assert as_user.status_code == 404
    assert anonymous.status_code == 401


async def test_one_impersonation_at_a_time(
    client: httpx.AsyncClient, container: ApplicationContainer, support: Person, ada: Person
) -> None:
    bob = await person(client, container, "bob")
    first = await started(client, support, ada.user_id)

    second = await start(client, support, bob.user_id)

    assert second.status_code == 409
    assert second.json()["type"] == BASE + "safety/already-impersonating"
    assert second.json()["impersonation_id"] == first["impersonation"]["id"]


async def test_the_staff_endpoints_are_closed_to_the_impersonation_session(
    client: httpx.AsyncClient, support: Person, ada: Person
) -> None:
    body = await started(client, support, ada.user_id)
    as_ada = bearer(body["token"])

    users = await client.get("/api/v1/admin/users", headers=as_ada)
    again = await start(client, Person(ada.user_id, ada.email, body["token"]), ada.user_id)

    for refused in (users, again):
        assert refused.status_code == 403
        assert refused.json()["type"] == BASE + "safety/impersonation-active"
        assert refused.headers["x-impersonation"] == body["impersonation"]["id"]
    # The staff member's own session keeps them.
    assert (await client.get("/api/v1/admin/users", headers=support.headers)).status_code == 200


async def test_every_request_is_recorded_with_both_ids(
    client: httpx.AsyncClient, container: ApplicationContainer, support: Person, ada: Person
) -> None:
    body = await started(client, support, ada.user_id)
    impersonation_id = body["impersonation"]["id"]
    as_ada = bearer(body["token"])

    renamed = await client.patch("/api/v1/me", json={"name": "Ada L."}, headers=as_ada)
    await client.get("/api/v1/me", headers=as_ada)
    await client.get("/api/v1/admin/users", headers=as_ada)

    assert renamed.status_code == 200, renamed.text
    actions = await events(container, "safety.impersonated_action")
    assert [(a["method"], a["path"], a["status"]) for a in actions] == [
        ("PATCH", "/api/v1/me", 200),
        ("GET", "/api/v1/me", 200),
        ("GET", "/api/v1/admin/users", 403),
    ]
    assert {(a["impersonation_id"], a["staff_id"], a["user_id"]) for a in actions} == {
        (impersonation_id, support.user_id, ada.user_id)
    }
    [start_event] = await events(container, "safety.impersonation_started")
    assert start_event["staff_id"] == support.user_id
    assert start_event["user_id"] == ada.user_id
    assert start_event["reason"] == "ticket 4521: invoices look wrong"


async def test_the_audit_log_names_both_the_staff_member_and_the_user(
    client: httpx.AsyncClient, container: ApplicationContainer, support: Person, ada: Person
) -> None:
    body = await started(client, support, ada.user_id)
    as_ada = bearer(body["token"])

    await client.get("/api/v1/me/sessions", headers=as_ada)
    await client.post(STOP, headers=as_ada)

    [begun] = await audit_entries(container, "impersonation.started")
    assert (begun.target_type, begun.target_id) == ("user", ada.user_id)
    assert begun.reason == "ticket 4521: invoices look wrong"
    actions = await audit_entries(container, "impersonation.action")
    [stopped] = await audit_entries(container, "impersonation.stopped")
    assert [a.after["path"] for a in actions if a.after] == [
        "/api/v1/me/sessions",
        "/api/v1/impersonation/stop",
    ]
    for entry in (*actions, stopped):
        assert (entry.actor_id, entry.impersonator_id) == (ada.user_id, support.user_id)
        assert entry.target_id == ada.user_id


async def test_stop_ends_the_user_session_and_the_staff_session_still_works(
    client: httpx.AsyncClient, container: ApplicationContainer, support: Person, ada: Person
) -> None:
    body = await started(client, support, ada.user_id)
    impersonation_id = body["impersonation"]["id"]
    as_ada = bearer(body["token"])

    stopped = await client.post(STOP, headers=as_ada)
    after = await client.get("/api/v1/me", headers=as_ada)
    own = await client.get("/api/v1/me", headers=support.headers)
    record = await client.get(f"{ADMIN}/{impersonation_id}", headers=support.headers)

    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["impersonation"]["ended_reason"] == "stopped"
    assert stopped.json()["staff_session_id"]
    assert after.status_code == 401
    assert after.json()["type"] == BASE + "safety/impersonation-ended"
    assert own.status_code == 200
    assert own.json()["id"] == support.user_id
    assert record.json()["active"] is False
    assert record.json()["ended_by"] == support.user_id
    [stop_event] = await events(container, "safety.impersonation_stopped")
    assert stop_event["stopped_by"] == support.user_id
    # The user's own session is untouched, and stop from it has nothing to stop.
    not_one = await client.post(STOP, headers=ada.headers)
    assert not_one.status_code == 409
    assert not_one.json()["type"] == BASE + "safety/not-impersonating"
    # A new impersonation may start now.
    assert (await start(client, support, ada.user_id)).status_code == 201


async def test_stop_still_ends_one_whose_session_identity_ended_first(
    client: httpx.AsyncClient, container: ApplicationContainer, support: Person, ada: Person
) -> None:
    body = await started(client, support, ada.user_id)
    as_ada = bearer(body["token"])
    assert (await client.post("/api/v1/auth/sign-out", headers=as_ada)).status_code == 204

    signed_out = await client.get("/api/v1/me", headers=as_ada)
    stopped = await client.post(STOP, headers=as_ada)

    assert signed_out.status_code == 401
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["impersonation"]["ended_reason"] == "stopped"
    assert len(await events(container, "safety.impersonation_stopped")) == 1


async def test_with_cookies_stop_puts_the_staff_session_cookies_back(
    client: httpx.AsyncClient, container: ApplicationContainer, ada: Person
) -> None:
    support = await staff_member(client, container, "support", StaffRole.SUPPORT)
    signed_in = await client.post(
        "/api/v1/auth/sign-in",
        json={"email": support.email, "password": PASSWORD, "transport": "cookie"},
    )
    staff_csrf = signed_in.json()["csrf_token"]
    begun = await client.post(
        ADMIN,
        json={"user_id": ada.user_id, "reason": "ticket 7", "transport": "cookie"},
        headers={"X-CSRF-Token": staff_csrf},
    )
    assert begun.status_code == 201, begun.text
    assert "token" not in begun.json()

    me = await client.get("/api/v1/me")
    refused = await client.patch("/api/v1/me", json={"name": "x"})
    stopped = await client.post(STOP, headers={"X-CSRF-Token": begun.json()["csrf_token"]})
    back = await client.get("/api/v1/me")

    assert me.json()["id"] == ada.user_id
    assert me.json()["impersonated_by"] == support.user_id
    assert refused.status_code == 403  # no CSRF token: cookies need one as ever
    assert stopped.status_code == 200, stopped.text
    assert back.status_code == 200
    assert back.json()["id"] == support.user_id
    assert "x-impersonation" not in back.headers
    # The cookies carry the staff session again, with its own CSRF token.
    assert stopped.json()["csrf_token"] == staff_csrf
    renamed = await client.patch(
        "/api/v1/me", json={"name": "Sam"}, headers={"X-CSRF-Token": staff_csrf}
    )
    assert renamed.status_code == 200


async def test_it_expires_by_itself_and_stop_after_that_still_returns(
    client: httpx.AsyncClient,
    container: ApplicationContainer,
    clock: FixedClock,
    support: Person,
    ada: Person,
) -> None:
    body = await started(client, support, ada.user_id, minutes=10)
    as_ada = bearer(body["token"])
    assert (await client.get("/api/v1/me", headers=as_ada)).status_code == 200

    clock.advance(timedelta(minutes=10))
    after = await client.get("/api/v1/me", headers=as_ada)
    stopped = await client.post(STOP, headers=as_ada)

    assert after.status_code == 401
    assert after.json()["type"] == BASE + "safety/impersonation-ended"
    assert stopped.status_code == 200
    assert stopped.json()["impersonation"]["ended_reason"] == "expired"
    assert stopped.json()["impersonation"]["ended_at"] == "2030-01-01T00:10:00Z"
    [expired] = await events(container, "safety.impersonation_expired")
    assert expired["impersonation_id"] == body["impersonation"]["id"]
    assert expired["occurred_at"] == "2030-01-01T00:10:00Z"
    assert await events(container, "safety.impersonation_stopped") == []
    assert (await client.get("/api/v1/me", headers=support.headers)).status_code == 200


async def test_staff_list_the_active_ones_and_an_expiry_is_recorded_without_a_request(
    client: httpx.AsyncClient,
    container: ApplicationContainer,
    clock: FixedClock,
    support: Person,
    ada: Person,
) -> None:
    ops = await staff_member(client, container, "ops", StaffRole.OPS)
    bob = await person(client, container, "bob")
    short = await started(client, support, ada.user_id, minutes=5)
    long = await started(client, ops, bob.user_id, minutes=60)

    clock.advance(timedelta(minutes=6))
    active = await client.get(ADMIN, params={"active": "true"}, headers=support.headers)
    every = await client.get(ADMIN, headers=support.headers)
    of_ada = await client.get(ADMIN, params={"user_id": ada.user_id}, headers=support.headers)

    assert [i["id"] for i in active.json()["impersonations"]] == [long["impersonation"]["id"]]
    assert [i["id"] for i in every.json()["impersonations"]] == [
        long["impersonation"]["id"],
        short["impersonation"]["id"],
    ]
    [expired] = of_ada.json()["impersonations"]
    assert expired["ended_reason"] == "expired"
    assert len(await events(container, "safety.impersonation_expired")) == 1


async def test_ops_end_another_staff_members_impersonation_support_may_not(
    client: httpx.AsyncClient, container: ApplicationContainer, support: Person, ada: Person
) -> None:
    ops = await staff_member(client, container, "ops", StaffRole.OPS)
    other_support = await staff_member(client, container, "helper", StaffRole.SUPPORT)
    body = await started(client, support, ada.user_id)
    end = f"{ADMIN}/{body['impersonation']['id']}/end"

    refused = await client.post(end, headers=other_support.headers)
    ended = await client.post(end, headers=ops.headers)

    assert refused.status_code == 403
    assert refused.json()["type"] == BASE + "safety/impersonation-not-allowed"
    assert ended.status_code == 200
    assert ended.json()["ended_by"] == ops.user_id
    assert (await client.get("/api/v1/me", headers=bearer(body["token"]))).status_code == 401
    missing = await client.get(f"{ADMIN}/imp_nothing", headers=ops.headers)
    assert missing.status_code == 404
    assert missing.json()["type"] == BASE + "safety/impersonation-not-found"


async def test_the_maximum_can_be_configured_lower(settings: Settings) -> None:
    container = build_container(settings_with(settings, impersonation_max_minutes=15))
    try:
        async with serve_in_process(create_app(container, run_worker=False)) as client:
            support = await staff_member(client, container, "support", StaffRole.SUPPORT)
            ada = await person(client, container, "ada")

            too_long = await start(client, support, ada.user_id, minutes=20)
            default = await start(client, support, ada.user_id)

            assert too_long.status_code == 422
            assert too_long.json()["max_minutes"] == 15
            assert default.status_code == 201
            started_at = default.json()["impersonation"]["started_at"]
            expires_at = default.json()["impersonation"]["expires_at"]
            assert started_at < expires_at
    finally:
        await close_container(container)


async def test_the_minutely_job_records_an_expiry_nobody_looked_at(
    client: httpx.AsyncClient,
    container: ApplicationContainer,
    clock: FixedClock,
    support: Person,
    ada: Person,
) -> None:
    await started(client, support, ada.user_id, minutes=5)

    assert await expire_impersonations(container) == 0
    clock.advance(timedelta(minutes=6))
    assert await expire_impersonations(container) == 1
    assert await expire_impersonations(container) == 0

    [expired] = await events(container, "safety.impersonation_expired")
    assert expired["occurred_at"] == "2030-01-01T00:05:00Z"
