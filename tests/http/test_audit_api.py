"""The audit log over HTTP: what people do becomes entries stamped with who, from where
and which request; staff read, filter and export everything and verify the chain;
workspace owners read and export their workspace's entries only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec
import pytest
from sqlalchemy import update

from adapters.memory.totp import totp_code
from adapters.sql.safety.audit_tables import audit_entries
from core.identity import StaffRole, WorkspaceRole
from core.kernel import FixedClock
from entrypoints.containers import ApplicationContainer
from entrypoints.testing.people import PASSWORD, Person, join, person, staff_member, workspace_of
from entrypoints.testing.workflows import run_jobs

ADMIN = "/api/v1/admin/audit"
BROWSER = {"User-Agent": "Mozilla/5.0 (audit test)", "X-Request-ID": "req-audit-00000001"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture
async def support(client: httpx.AsyncClient, container: ApplicationContainer) -> Person:
    return await staff_member(client, container, "sam", StaffRole.SUPPORT)


async def _entries(
    client: httpx.AsyncClient, who: Person, path: str = ADMIN, **params: str
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = ok(await client.get(path, params=params, headers=who.headers))[
        "entries"
    ]
    return found


async def test_a_sign_in_is_recorded_with_address_user_agent_and_request_id(
    client: httpx.AsyncClient, container: ApplicationContainer, support: Person
) -> None:
    ada = await person(client, container, "ada")
    signed_in = await client.post(
        "/api/v1/auth/sign-in",
        json={"email": ada.email, "password": PASSWORD, "transport": "bearer"},
        headers=BROWSER,
    )
    assert signed_in.status_code == 200

    found = await _entries(client, support, action="auth.signed_in", actor=ada.user_id)

    latest = found[0]
    assert (latest["actor_type"], latest["actor_id"]) == ("user", ada.user_id)
    assert (latest["target_type"], latest["target_id"]) == ("user", ada.user_id)
    assert latest["user_agent"] == BROWSER["User-Agent"]
    assert latest["request_id"] == BROWSER["X-Request-ID"]
    assert latest["ip"]
    assert latest["after"]["method"] == "password"


async def test_a_failed_sign_in_is_recorded_though_nothing_else_is_kept(
    client: httpx.AsyncClient, container: ApplicationContainer, support: Person
) -> None:
    ada = await person(client, container, "ada")

    refused = await client.post(
        "/api/v1/auth/sign-in",
        json={"email": ada.email, "password": "wrong-password-here", "transport": "bearer"},
        headers=BROWSER,
    )
    unknown = await client.post(
        "/api/v1/auth/sign-in",
        json={"email": "nobody@example.com", "password": "wrong-password-here"},
    )

    assert (refused.status_code, unknown.status_code) == (401, 401)
    found = await _entries(client, support, action="auth.sign_in_failed")
    assert [e["target_id"] for e in found] == [None, ada.user_id]
    assert found[1]["actor_id"] is None
    assert found[1]["request_id"] == BROWSER["X-Request-ID"]
    assert found[1]["after"]["problem"] == "identity/invalid-credentials"


async def test_a_role_change_an_api_key_and_a_subscription_are_recorded(
    client: httpx.AsyncClient, container: ApplicationContainer, support: Person
) -> None:
    ada = await person(client, container, "ada")
    bob = await person(client, container, "bob")
    ws = await workspace_of(client, ada)
    await join(container, ws, bob, WorkspaceRole.MEMBER)

    ok(
        await client.patch(
            f"/api/v1/workspaces/{ws}/members/{bob.user_id}",
            json={"role": "admin"},
            headers={**ada.headers, **BROWSER},
        )
    )
    key = ok(
        await client.post(
            f"/api/v1/workspaces/{ws}/api-keys",
            json={"name": "ci", "permissions": ["workspace:read"]},
            headers=ada.headers,
        ),
        201,
    )
    started = ok(
        await client.post(
            f"/api/v1/workspaces/{ws}/billing/checkout",
            json={"plan": "pro", "interval": "month", "trial": False},
            headers=ada.headers,
        )
    )
    paid = await client.post(f"{urlsplit(started['url']).path}/pay", follow_redirects=False)
    assert paid.status_code == 303
    await container.billing.payment_provider().settle()
    await run_jobs(container)

    entries = await _entries(client, support, workspace_id=ws)
    by_action = {e["action"]: e for e in entries}
    role = by_action["member.role_changed"]
    assert (role["actor_id"], role["target_id"], role["after"]) == (
        ada.user_id,
        bob.user_id,
        {"role": "admin"},
    )
    assert role["request_id"] == BROWSER["X-Request-ID"]
    created = by_action["api_key.created"]
    assert (created["target_type"], created["target_id"]) == ("api_key", key["id"])
    assert created["after"]["permissions"] == ["workspace:read"]
    assert "secret" not in msgspec.json.encode(created).decode().lower()
    activated = by_action["subscription.activated"]
    assert activated["target_type"] == "subscription"
    assert activated["after"]["plan"] == "pro"
    assert activated["actor_type"] == "system"  # applied by the webhook's job
    assert "member.added" in by_action  # the owner's own membership


async def test_owners_read_their_workspace_only_and_others_cannot(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    ada = await person(client, container, "ada")
    eve = await person(client, container, "eve")
    admin = await person(client, container, "adam")
    ws = await workspace_of(client, ada, "Acme")
    other = await workspace_of(client, eve, "Evil")
    await join(container, ws, admin, WorkspaceRole.ADMIN)

    mine = await _entries(client, ada, f"/api/v1/workspaces/{ws}/audit")
    foreign = await client.get(f"/api/v1/workspaces/{other}/audit", headers=ada.headers)
    as_admin = await client.get(f"/api/v1/workspaces/{ws}/audit", headers=admin.headers)
    staff_route = await client.get(ADMIN, headers=ada.headers)

    assert mine
    assert {e["workspace_id"] for e in mine} == {ws}
    assert foreign.status_code == 404
    assert as_admin.status_code == 403
    assert staff_route.status_code == 404


async def test_staff_filter_by_actor_action_target_and_time_and_page_by_cursor(
    client: httpx.AsyncClient, container: ApplicationContainer, support: Person
) -> None:
    ada = await person(client, container, "ada")
    for name in ("one", "two", "three"):
        await workspace_of(client, ada, name)

    page = ok(
        await client.get(
            ADMIN,
            params={"actor": ada.user_id, "action": "workspace.*", "limit": 2},
            headers=support.headers,
        )
    )
    rest = ok(
        await client.get(
            ADMIN,
            params={"actor": ada.user_id, "action": "workspace.*", "cursor": page["next_cursor"]},
            headers=support.headers,
        )
    )
    first_ws = rest["entries"][-1]["target_id"]
    by_target = await _entries(client, support, target_type="workspace", target_id=first_ws)
    later = await _entries(
        client, support, action="workspace.created", **{"from": "2100-01-01T00:00:00Z"}
    )
    naive = await client.get(ADMIN, params={"from": "2026-01-01T00:00:00"}, headers=support.headers)

    assert [e["action"] for e in page["entries"]] == ["workspace.created"] * 2
    assert len(rest["entries"]) == 1
    assert rest["next_cursor"] is None
    assert page["entries"][0]["seq"] > page["entries"][1]["seq"] > rest["entries"][0]["seq"]
    assert [e["action"] for e in by_target] == ["workspace.created"]
    assert later == []
    assert naive.status_code == 422


async def test_exports_are_json_lines_oldest_first(
    client: httpx.AsyncClient, container: ApplicationContainer, support: Person
) -> None:
    ada = await person(client, container, "ada")
    ws = await workspace_of(client, ada)
    await workspace_of(client, ada, "Other")

    everything = await client.get(f"{ADMIN}/export", headers=support.headers)
    theirs = await client.get(f"/api/v1/workspaces/{ws}/audit/export", headers=ada.headers)

    assert everything.status_code == 200
    assert everything.headers["content-type"].startswith("application/jsonl")
    lines = [msgspec.json.decode(line) for line in everything.text.splitlines()]
    assert [e["seq"] for e in lines] == sorted(e["seq"] for e in lines)
    assert {"hash", "prev_hash", "action"} <= set(lines[0])
    assert "salt" not in lines[0]
    own = [msgspec.json.decode(line) for line in theirs.text.splitlines()]
    assert own
    assert {e["workspace_id"] for e in own} == {ws}


async def test_verify_names_the_entry_tampered_with_in_the_database(
    client: httpx.AsyncClient, container: ApplicationContainer, support: Person
) -> None:
    ada = await person(client, container, "ada")
    await workspace_of(client, ada)
    intact = ok(await client.get(f"{ADMIN}/verify", headers=support.headers))
    victim = (await _entries(client, support, action="workspace.created"))[0]
    async with container.unit_of_work() as uow:
        await uow.session.execute(
            update(audit_entries)
            .where(audit_entries.c.id == victim["id"])
            .values(actor_id="usr_someone_else")
        )
        await uow.session.commit()

    broken = ok(await client.get(f"{ADMIN}/verify", headers=support.headers))

    assert intact["intact"] is True
    assert intact["broken"] is None
    assert broken["intact"] is False
    assert (broken["broken"]["seq"], broken["broken"]["entry_id"]) == (victim["seq"], victim["id"])


async def test_the_audit_log_is_for_staff_with_safety_read(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    ada = await person(client, container, "ada")

    assert (await client.get(ADMIN, headers=ada.headers)).status_code == 404
    assert (await client.get(ADMIN)).status_code == 401


async def test_a_staff_credit_grant_is_recorded_once_with_its_reason(
    client: httpx.AsyncClient, container: ApplicationContainer, support: Person
) -> None:
    ops = await staff_member(client, container, "olga", StaffRole.OPS)
    ada = await person(client, container, "ada")
    ws = await workspace_of(client, ada)
    grant = {"workspace_id": ws, "amount": 500, "reason": "ticket 42", "idempotency_key": "t42"}

    first = ok(
        await client.post("/api/v1/admin/billing/credit-grants", json=grant, headers=ops.headers),
        201,
    )
    again = ok(
        await client.post("/api/v1/admin/billing/credit-grants", json=grant, headers=ops.headers),
        201,
    )

    (entry,) = await _entries(client, support, action="credits.granted")
    assert first["id"] == again["id"]
    assert (entry["actor_type"], entry["actor_id"]) == ("staff", ops.user_id)
    assert (entry["workspace_id"], entry["target_id"], entry["reason"]) == (
        ws,
        first["id"],
        "ticket 42",
    )
    assert entry["after"]["amount"] == 500


async def test_two_factor_changes_and_second_steps_are_recorded(
    client: httpx.AsyncClient, container: ApplicationContainer, support: Person, clock: FixedClock
) -> None:
    ada = await person(client, container, "ada")
    secret = ok(await client.post("/api/v1/me/2fa/enroll", headers=ada.headers))["secret"]
    token = ok(
        await client.post(
            "/api/v1/me/2fa/confirm",
            json={"code": totp_code(secret, clock.now())},
            headers=ada.headers,
        )
    )["token"]
    clock.advance(timedelta(seconds=30))
    sign_in = {"email": ada.email, "password": PASSWORD, "transport": "bearer"}
    challenge = ok(await client.post("/api/v1/auth/sign-in", json=sign_in))["challenge"]
    wrong = await client.post(
        "/api/v1/auth/sign-in/two-factor", json={"challenge": challenge, "code": "000000"}
    )
    right = await client.post(
        "/api/v1/auth/sign-in/two-factor",
        json={"challenge": challenge, "code": totp_code(secret, clock.now())},
    )
    disabled = await client.post(
        "/api/v1/me/2fa/disable", json={"password": PASSWORD}, headers=bearer(token)
    )

    assert (wrong.status_code, right.status_code, disabled.status_code) == (400, 200, 204)
    entries = await _entries(client, support, target_type="user", target_id=ada.user_id)
    actions = [e["action"] for e in reversed(entries)]
    assert actions[-4:] == [
        "auth.two_factor_enabled",
        "auth.sign_in_failed",
        "auth.signed_in",
        "auth.two_factor_disabled",
    ]
    failed, signed_in = entries[2], entries[1]
    assert failed["after"] == {"problem": "identity/invalid-two-factor-code", "step": "two_factor"}
    assert signed_in["after"]["method"] == "two_factor"
