"""Two-factor authentication over HTTP: enrol, confirm, the second sign-in step with an
authenticator code or a recovery code, throttling, turning it off."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from adapters.memory.totp import totp_code
from core.identity.throttling import TWO_FACTOR_FAILURES_PER_ACCOUNT
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


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def sign_in(client: httpx.AsyncClient, transport: str = "bearer") -> httpx.Response:
    body = {"email": "ada@example.com", "password": PASSWORD, "transport": transport}
    return await client.post("/api/v1/auth/sign-in", json=body)


async def enable_two_factor(
    client: httpx.AsyncClient, clock: FixedClock
) -> tuple[str, list[str], str]:
    """Turn two-factor on by bearer: the secret, the recovery codes, the new token."""
    token = (await sign_in(client)).json()["token"]
    enrolled = await client.post("/api/v1/me/2fa/enroll", headers=bearer(token))
    assert enrolled.status_code == 200, enrolled.text
    secret = enrolled.json()["secret"]
    confirmed = await client.post(
        "/api/v1/me/2fa/confirm",
        json={"code": totp_code(secret, clock.now())},
        headers=bearer(token),
    )
    assert confirmed.status_code == 200, confirmed.text
    clock.advance(timedelta(seconds=30))  # the confirming code is used: move to the next one
    return secret, confirmed.json()["recovery_codes"], confirmed.json()["token"]


async def test_enrolling_answers_a_secret_and_an_otpauth_uri(
    client: httpx.AsyncClient, ada: str
) -> None:
    token = (await sign_in(client)).json()["token"]

    response = await client.post("/api/v1/me/2fa/enroll", headers=bearer(token))

    assert response.status_code == 200
    body = response.json()
    assert body["otpauth_uri"].startswith("otpauth://totp/Ninefold:ada%40example.com?")
    assert f"secret={body['secret']}" in body["otpauth_uri"]
    assert response.headers["cache-control"] == "no-store"
    me = await client.get("/api/v1/me", headers=bearer(token))
    assert me.json()["two_factor_enabled"] is False


async def test_confirming_turns_it_on_and_rotates_the_session(
    client: httpx.AsyncClient, ada: str, clock: FixedClock
) -> None:
    old_token = (await sign_in(client)).json()["token"]
    secret = (await client.post("/api/v1/me/2fa/enroll", headers=bearer(old_token))).json()[
        "secret"
    ]

    wrong = await client.post(
        "/api/v1/me/2fa/confirm", json={"code": "12345"}, headers=bearer(old_token)
    )
    response = await client.post(
        "/api/v1/me/2fa/confirm",
        json={"code": totp_code(secret, clock.now())},
        headers=bearer(old_token),
    )

    assert wrong.status_code == 400
    assert wrong.json()["type"] == BASE + "identity/invalid-two-factor-code"
    assert response.status_code == 200
    body = response.json()
    assert len(body["recovery_codes"]) == 10
    assert (await client.get("/api/v1/me", headers=bearer(old_token))).status_code == 401
    me = await client.get("/api/v1/me", headers=bearer(body["token"]))
    assert me.json()["two_factor_enabled"] is True


async def test_confirming_by_cookie_sets_new_cookies(
    client: httpx.AsyncClient, ada: str, clock: FixedClock
) -> None:
    csrf = (await sign_in(client, transport="cookie")).json()["csrf_token"]
    old_cookie = client.cookies["nf_session"]
    secret = (await client.post("/api/v1/me/2fa/enroll", headers={"X-CSRF-Token": csrf})).json()[
        "secret"
    ]

    response = await client.post(
        "/api/v1/me/2fa/confirm",
        json={"code": totp_code(secret, clock.now())},
        headers={"X-CSRF-Token": csrf},
    )

    assert response.status_code == 200, response.text
    assert client.cookies["nf_session"] != old_cookie
    assert response.json()["csrf_token"] == client.cookies["nf_csrf"] != csrf
    assert "token" not in response.json()


async def test_sign_in_with_two_factor_on_asks_for_a_code_then_opens_a_session(
    client: httpx.AsyncClient, ada: str, clock: FixedClock
) -> None:
    secret, _, _ = await enable_two_factor(client, clock)
    client.cookies.clear()

    first = await sign_in(client, transport="cookie")

    assert first.status_code == 200
    body = first.json()
    assert body["two_factor_required"] is True
    assert body["challenge"].startswith("nf_2fa_")
    assert "user" not in body
    assert "token" not in body
    assert "set-cookie" not in first.headers

    second = await client.post(
        "/api/v1/auth/sign-in/two-factor",
        json={"challenge": body["challenge"], "code": totp_code(secret, clock.now())},
    )

    assert second.status_code == 200, second.text
    assert second.json()["user"]["two_factor_enabled"] is True
    assert second.json()["csrf_token"]
    assert (await client.get("/api/v1/me")).status_code == 200

    replayed = await client.post(
        "/api/v1/auth/sign-in/two-factor",
        json={"challenge": body["challenge"], "code": totp_code(secret, clock.now())},
    )
    assert replayed.status_code == 400
    assert replayed.json()["type"] == BASE + "identity/invalid-two-factor-challenge"


async def test_a_recovery_code_signs_in_once(
    client: httpx.AsyncClient, ada: str, clock: FixedClock
) -> None:
    _, codes, _ = await enable_two_factor(client, clock)

    async def with_recovery_code(code: str) -> httpx.Response:
        challenge = (await sign_in(client)).json()["challenge"]
        return await client.post(
            "/api/v1/auth/sign-in/two-factor",
            json={"challenge": challenge, "recovery_code": code, "transport": "bearer"},
        )

    first = await with_recovery_code(codes[0])
    again = await with_recovery_code(codes[0])

    assert first.status_code == 200
    assert first.json()["token"].startswith("nf_sess_")
    assert again.status_code == 400


async def test_repeated_wrong_codes_are_throttled_with_retry_after(
    client: httpx.AsyncClient, ada: str, clock: FixedClock
) -> None:
    await enable_two_factor(client, clock)
    challenge = (await sign_in(client)).json()["challenge"]

    answers = [
        await client.post(
            "/api/v1/auth/sign-in/two-factor",
            json={"challenge": challenge, "recovery_code": "zzzz-zzzz"},
        )
        for _ in range(TWO_FACTOR_FAILURES_PER_ACCOUNT.limit + 1)
    ]

    assert [a.status_code for a in answers[:-1]] == [400] * TWO_FACTOR_FAILURES_PER_ACCOUNT.limit
    assert answers[-1].status_code == 429
    assert int(answers[-1].headers["retry-after"]) > 0


async def test_disabling_needs_the_password(
    client: httpx.AsyncClient, ada: str, clock: FixedClock
) -> None:
    _, _, token = await enable_two_factor(client, clock)

    wrong = await client.post(
        "/api/v1/me/2fa/disable", json={"password": "not my password"}, headers=bearer(token)
    )
    right = await client.post(
        "/api/v1/me/2fa/disable", json={"password": PASSWORD}, headers=bearer(token)
    )

    assert wrong.status_code == 403
    assert wrong.json()["type"] == BASE + "identity/wrong-password"
    assert right.status_code == 204
    signed_in = await sign_in(client)
    assert signed_in.json()["token"].startswith("nf_sess_")
    assert signed_in.json()["user"]["two_factor_enabled"] is False


async def test_regenerating_recovery_codes_replaces_them(
    client: httpx.AsyncClient, ada: str, clock: FixedClock
) -> None:
    _, old, token = await enable_two_factor(client, clock)

    response = await client.post(
        "/api/v1/me/2fa/recovery-codes", json={"password": PASSWORD}, headers=bearer(token)
    )

    assert response.status_code == 200
    new = response.json()["recovery_codes"]
    assert len(new) == 10
    assert not set(new) & set(old)
    challenge = (await sign_in(client)).json()["challenge"]
    stale = await client.post(
        "/api/v1/auth/sign-in/two-factor", json={"challenge": challenge, "recovery_code": old[1]}
    )
    assert stale.status_code == 400


async def test_disabling_ends_every_other_session_and_keeps_this_one(
    client: httpx.AsyncClient, ada: str, clock: FixedClock
) -> None:
    secret, _, token = await enable_two_factor(client, clock)
    challenge = (await sign_in(client)).json()["challenge"]
    other = await client.post(
        "/api/v1/auth/sign-in/two-factor",
        json={
            "challenge": challenge,
            "code": totp_code(secret, clock.now()),
            "transport": "bearer",
        },
    )
    other_token = other.json()["token"]

    response = await client.post(
        "/api/v1/me/2fa/disable", json={"password": PASSWORD}, headers=bearer(token)
    )

    assert response.status_code == 204
    assert (await client.get("/api/v1/me", headers=bearer(other_token))).status_code == 401
    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 200
