"""Signing in and out, sessions by cookie (with CSRF) and by bearer token."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from core.kernel import FixedClock
from entrypoints.containers import ApplicationContainer

PASSWORD = "correct horse battery"
BASE = "https://ninefold.dev/problems/"


@pytest.fixture
async def ada(container: ApplicationContainer) -> str:
    async with container.unit_of_work() as uow:
        user = await container.identity.service(uow=uow).register_user(
            "ada@example.com", "Ada", PASSWORD
        )
        await uow.commit()
    return user.id


async def sign_in(
    client: httpx.AsyncClient, transport: str = "cookie", **extra: str
) -> httpx.Response:
    body = {"email": "ada@example.com", "password": PASSWORD, "transport": transport, **extra}
    return await client.post("/api/v1/auth/sign-in", json=body)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_browser_sign_in_sets_an_httponly_lax_session_cookie(
    client: httpx.AsyncClient, ada: str
) -> None:
    response = await sign_in(client)

    assert response.status_code == 200
    cookies = {c.split("=", 1)[0]: c for c in response.headers.get_list("set-cookie")}
    session_cookie = cookies["nf_session"].lower()
    assert "httponly" in session_cookie
    assert "samesite=lax" in session_cookie
    assert "secure" in session_cookie
    assert "httponly" not in cookies["nf_csrf"].lower()
    body = response.json()
    assert "token" not in body
    assert body["csrf_token"]
    assert body["user"]["email"] == "ada@example.com"
    assert response.headers["cache-control"] == "no-store"

    me = await client.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["id"] == ada


async def test_an_api_client_signs_in_for_a_bearer_token(
    client: httpx.AsyncClient, ada: str
) -> None:
    response = await sign_in(client, transport="bearer")

    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    token = response.json()["token"]
    assert token.startswith("nf_sess_")
    client.cookies.clear()
    me = await client.get("/api/v1/me", headers=bearer(token))
    assert me.json()["email"] == "ada@example.com"


async def test_a_wrong_password_and_an_unknown_email_fail_alike(
    client: httpx.AsyncClient, ada: str
) -> None:
    wrong = await client.post(
        "/api/v1/auth/sign-in", json={"email": "ada@example.com", "password": "not it at all"}
    )
    unknown = await client.post(
        "/api/v1/auth/sign-in", json={"email": "bob@example.com", "password": "not it at all"}
    )
    malformed = await client.post(
        "/api/v1/auth/sign-in", json={"email": "not-an-email", "password": "not it at all"}
    )

    def comparable(response: httpx.Response) -> tuple[int, dict[str, object]]:
        body = {k: v for k, v in response.json().items() if k != "request_id"}
        return response.status_code, body

    assert comparable(wrong) == comparable(unknown) == comparable(malformed)
    assert wrong.status_code == 401
    assert wrong.json()["type"] == BASE + "identity/invalid-credentials"
    assert "set-cookie" not in wrong.headers


async def test_without_a_session_me_is_401_with_a_bearer_challenge(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/v1/me")

    assert response.status_code == 401
    assert response.json()["type"] == BASE + "unauthenticated"
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("token", ["garbage", "nf_sess_" + "x" * 43, ""])
async def test_an_unknown_or_malformed_token_is_401(client: httpx.AsyncClient, token: str) -> None:
    response = await client.get("/api/v1/me", headers=bearer(token))

    assert response.status_code == 401


async def test_a_cookie_session_needs_the_csrf_token_on_unsafe_methods(
    client: httpx.AsyncClient, ada: str
) -> None:
    csrf = (await sign_in(client)).json()["csrf_token"]

    missing = await client.patch("/api/v1/me", json={"name": "Ada L."})
    wrong = await client.patch(
        "/api/v1/me", json={"name": "Ada L."}, headers={"X-CSRF-Token": "0" * 64}
    )
    right = await client.patch(
        "/api/v1/me", json={"name": "Ada L."}, headers={"X-CSRF-Token": csrf}
    )

    assert missing.status_code == wrong.status_code == 403
    assert missing.json()["type"] == BASE + "identity/csrf-failed"
    assert right.status_code == 200
    assert right.json()["name"] == "Ada L."
    assert client.cookies["nf_csrf"] == csrf


async def test_a_bearer_session_needs_no_csrf_token(client: httpx.AsyncClient, ada: str) -> None:
    token = (await sign_in(client, transport="bearer")).json()["token"]

    response = await client.patch("/api/v1/me", json={"name": "Countess"}, headers=bearer(token))

    assert response.status_code == 200
    assert response.json()["name"] == "Countess"


async def test_a_name_must_not_be_blank(client: httpx.AsyncClient, ada: str) -> None:
    token = (await sign_in(client, transport="bearer")).json()["token"]

    response = await client.patch("/api/v1/me", json={"name": "   "}, headers=bearer(token))

    assert response.status_code == 422
    assert response.json()["field"] == "name"


async def test_sign_out_ends_the_session_and_clears_the_cookies(
    client: httpx.AsyncClient, ada: str
) -> None:
    token = (await sign_in(client, transport="bearer")).json()["token"]

    response = await client.post("/api/v1/auth/sign-out", headers=bearer(token))

    assert response.status_code == 204
    assert any(c.startswith("nf_session=") for c in response.headers.get_list("set-cookie"))
    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 401


async def test_i_see_my_sessions_and_can_end_one_or_all_others(
    client: httpx.AsyncClient, ada: str
) -> None:
    laptop = (await sign_in(client, transport="bearer")).json()
    phone = (await sign_in(client, transport="bearer")).json()
    tablet = (await sign_in(client, transport="bearer")).json()
    me = bearer(laptop["token"])

    listed = (await client.get("/api/v1/me/sessions", headers=me)).json()
    assert {s["id"] for s in listed} == {
        laptop["session"]["id"],
        phone["session"]["id"],
        tablet["session"]["id"],
    }
    assert [s["current"] for s in listed if s["id"] == laptop["session"]["id"]] == [True]

    ended = await client.delete(f"/api/v1/me/sessions/{phone['session']['id']}", headers=me)
    assert ended.status_code == 204
    assert (await client.get("/api/v1/me", headers=bearer(phone["token"]))).status_code == 401

    others = await client.post("/api/v1/me/sessions/revoke-others", headers=me)
    assert others.json() == {"revoked": 1}
    assert (await client.get("/api/v1/me", headers=bearer(tablet["token"]))).status_code == 401
    assert (await client.get("/api/v1/me", headers=me)).status_code == 200


async def test_another_users_session_id_is_404(
    client: httpx.AsyncClient, container: ApplicationContainer, ada: str
) -> None:
    async with container.unit_of_work() as uow:
        await container.identity.service(uow=uow).register_user("bob@example.com", "", PASSWORD)
        await uow.commit()
    bob = (
        await client.post(
            "/api/v1/auth/sign-in",
            json={"email": "bob@example.com", "password": PASSWORD, "transport": "bearer"},
        )
    ).json()
    mine = (await sign_in(client, transport="bearer")).json()

    response = await client.delete(
        f"/api/v1/me/sessions/{bob['session']['id']}", headers=bearer(mine["token"])
    )

    assert response.status_code == 404
    assert (await client.get("/api/v1/me", headers=bearer(bob["token"]))).status_code == 200


async def test_an_idle_session_expires_and_use_keeps_it_alive_up_to_the_absolute_limit(
    client: httpx.AsyncClient, clock: FixedClock, ada: str
) -> None:
    token = (await sign_in(client, transport="bearer")).json()["token"]

    for _ in range(4):  # used every 6 days: never idle for 7
        clock.advance(timedelta(days=6))
        assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 200
    clock.advance(timedelta(days=6, hours=1))  # 30 days and an hour since sign-in
    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 401

    idle = (await sign_in(client, transport="bearer")).json()["token"]
    clock.advance(timedelta(days=7, seconds=1))
    assert (await client.get("/api/v1/me", headers=bearer(idle))).status_code == 401


async def test_a_banned_user_cannot_sign_in_and_their_sessions_stop_working(
    client: httpx.AsyncClient, container: ApplicationContainer, clock: FixedClock, ada: str
) -> None:
    from sqlalchemy import update

    from adapters.sql.identity.tables import users

    token = (await sign_in(client, transport="bearer")).json()["token"]
    async with container.unit_of_work() as uow:
        await uow.session.execute(update(users).values(banned_at=clock.now()))
        await uow.commit()

    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 401
    refused = await sign_in(client, transport="bearer")
    assert refused.status_code == 403
    assert refused.json()["type"] == BASE + "identity/account-banned"


async def test_the_session_records_device_and_address(client: httpx.AsyncClient, ada: str) -> None:
    signed_in = await client.post(
        "/api/v1/auth/sign-in",
        json={"email": "ada@example.com", "password": PASSWORD, "transport": "bearer"},
        headers={"User-Agent": "Firefox/140 on Linux"},
    )

    sessions = await client.get("/api/v1/me/sessions", headers=bearer(signed_in.json()["token"]))

    assert sessions.json()[0]["user_agent"] == "Firefox/140 on Linux"
    assert sessions.json()[0]["ip"]


async def test_a_safe_request_may_reuse_the_principal_for_a_moment_but_a_write_never_does(
    client: httpx.AsyncClient, container: ApplicationContainer, clock: FixedClock, ada: str
) -> None:
    from sqlalchemy import update

    from adapters.sql.identity.tables import sessions

    token = (await sign_in(client, transport="bearer")).json()["token"]
    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 200
    async with container.unit_of_work() as uow:  # revoked behind this process's back
        await uow.session.execute(update(sessions).values(revoked_at=clock.now()))
        await uow.commit()

    cached = await client.get("/api/v1/me", headers=bearer(token))
    write = await client.patch("/api/v1/me", json={"name": "x"}, headers=bearer(token))

    assert cached.status_code == 200, "within NINEFOLD_SESSION_CACHE_SECONDS"
    assert write.status_code == 401, "unsafe methods always read the database"
    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 401
