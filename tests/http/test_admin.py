"""The platform staff's endpoints, ``/api/v1/admin``: who gets in, and bans."""

from __future__ import annotations

import httpx

from adapters.sql.identity.repositories import SqlUserRepository
from core.identity import StaffRole
from entrypoints.containers import ApplicationContainer, build_container, close_container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from entrypoints.testing.people import PASSWORD, Person, person
from entrypoints.testing.plugin import serve_in_process, settings_with

BASE = "https://ninefold.dev/problems/"


async def staff(
    client: httpx.AsyncClient, container: ApplicationContainer, name: str, role: StaffRole
) -> Person:
    who = await person(client, container, name)
    async with container.unit_of_work() as uow:
        await container.identity.staff(uow=uow).set_staff_role(who.email, role)
        await uow.commit()
    return who


async def sign_in(client: httpx.AsyncClient, who: Person) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/sign-in",
        json={"email": who.email, "password": PASSWORD, "transport": "bearer"},
    )


async def test_a_user_who_is_not_staff_gets_404_and_anonymous_401(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    ada = await person(client, container, "ada")

    as_user = await client.get("/api/v1/admin/users", headers=ada.headers)
    anonymous = await client.get("/api/v1/admin/users")
    ban = await client.post(
        f"/api/v1/admin/users/{ada.user_id}/ban", json={"reason": "x"}, headers=ada.headers
    )

    assert as_user.status_code == 404
    assert as_user.json()["type"] == BASE + "not-found"
    assert ban.status_code == 404
    assert anonymous.status_code == 401


async def test_support_lists_and_reads_users_but_cannot_ban(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    support = await staff(client, container, "support", StaffRole.SUPPORT)
    ada = await person(client, container, "ada")
    await person(client, container, "adam")
    await person(client, container, "bob")

    first = await client.get("/api/v1/admin/users?q=ADA&limit=1", headers=support.headers)
    cursor = first.json()["next_cursor"]
    second = await client.get(
        f"/api/v1/admin/users?q=ada&limit=1&cursor={cursor}", headers=support.headers
    )
    one = await client.get(f"/api/v1/admin/users/{ada.user_id}", headers=support.headers)
    missing = await client.get("/api/v1/admin/users/usr_nobody", headers=support.headers)
    too_many = await client.get("/api/v1/admin/users?limit=101", headers=support.headers)
    ban = await client.post(
        f"/api/v1/admin/users/{ada.user_id}/ban", json={"reason": "spam"}, headers=support.headers
    )

    assert first.status_code == 200, first.text
    emails = [u["email"] for u in first.json()["users"] + second.json()["users"]]
    assert emails == ["ada@example.com", "adam@example.com"]
    assert second.json()["next_cursor"] is None
    assert one.json()["email"] == "ada@example.com"
    assert one.json()["banned_at"] is None
    assert "password_hash" not in one.json()
    assert missing.status_code == 404
    assert missing.json()["type"] == BASE + "identity/user-not-found"
    assert too_many.status_code == 400
    assert ban.status_code == 403
    assert ban.json()["type"] == BASE + "identity/staff-permission-denied"


async def test_ops_bans_a_user_whose_sessions_end_and_unban_restores_sign_in(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    ops = await staff(client, container, "ops", StaffRole.OPS)
    ada = await person(client, container, "ada")

    banned = await client.post(
        f"/api/v1/admin/users/{ada.user_id}/ban", json={"reason": "spam"}, headers=ops.headers
    )

    assert banned.status_code == 200, banned.text
    assert banned.json()["banned_at"] is not None
    assert (await client.get("/api/v1/me", headers=ada.headers)).status_code == 401
    refused = await sign_in(client, ada)
    assert refused.status_code == 403
    assert refused.json()["type"] == BASE + "identity/account-banned"

    unbanned = await client.post(f"/api/v1/admin/users/{ada.user_id}/unban", headers=ops.headers)

    assert unbanned.status_code == 200
    assert unbanned.json()["banned_at"] is None
    assert (await sign_in(client, ada)).status_code == 200


async def test_staff_and_oneself_cannot_be_banned(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    ops = await staff(client, container, "ops", StaffRole.OPS)
    root = await staff(client, container, "root", StaffRole.SUPERADMIN)

    for target in (ops, root):
        response = await client.post(
            f"/api/v1/admin/users/{target.user_id}/ban", json={"reason": "x"}, headers=ops.headers
        )
        assert response.status_code == 409
        assert response.json()["type"] == BASE + "identity/ban-not-allowed"
    assert (await client.get("/api/v1/me", headers=root.headers)).status_code == 200


async def test_staff_need_two_factor_when_the_setting_requires_it(settings: Settings) -> None:
    # 2FA is switched on behind the app's back (a direct write), which the app's short
    # principal cache cannot see: turn the cache off for this test.
    container = build_container(
        settings_with(settings, staff_require_2fa=True, session_cache_seconds=0)
    )
    try:
        async with serve_in_process(create_app(container, run_worker=False)) as client:
            ops = await staff(client, container, "ops", StaffRole.OPS)
            without = await client.get("/api/v1/admin/users", headers=ops.headers)
            async with container.unit_of_work() as uow:
                now = container.kernel.clock().now()
                await SqlUserRepository(uow.session).set_totp(ops.user_id, "JBSWY3DPEHPK3PXP", now)
                await uow.commit()
            with_2fa = await client.get("/api/v1/admin/users", headers=ops.headers)
    finally:
        await close_container(container)

    assert without.status_code == 403
    assert without.json()["type"] == BASE + "identity/staff-2fa-required"
    assert with_2fa.status_code == 200


def test_production_always_requires_two_factor_for_staff(settings: Settings) -> None:
    assert not settings.staff_need_2fa
    assert settings_with(settings, env="production").staff_need_2fa
    assert settings_with(settings, staff_require_2fa=True).staff_need_2fa
