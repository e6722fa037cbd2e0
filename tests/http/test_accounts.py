"""Sign-up, email verification and password reset, end to end through the mail outbox."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest

from adapters.sql.notifications.outbox import list_emails
from core.kernel import FixedClock
from entrypoints.containers import ApplicationContainer

BASE = "https://ninefold.dev/problems/"
STRONG = "violet-kestrel-harbour-47"
TOKEN = re.compile(r"token=(nf_link_[A-Za-z0-9_\-]+)")


async def emails_to(container: ApplicationContainer, address: str) -> list[str]:
    """The text of every email queued to ``address``, oldest first."""
    async with container.unit_of_work() as uow:
        stored = await list_emails(uow.session, limit=50, to=address)
    return [f"{email.subject}\n{email.text}" for email in reversed(stored)]


async def link_token(container: ApplicationContainer, address: str) -> str:
    match = TOKEN.search((await emails_to(container, address))[-1])
    assert match, "the last email carries a link with a token"
    return match.group(1)


async def sign_up(
    client: httpx.AsyncClient, email: str = "ada@example.com", password: str = STRONG
) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/sign-up", json={"email": email, "password": password, "name": "Ada"}
    )


async def sign_in(client: httpx.AsyncClient, password: str = STRONG) -> httpx.Response:
    body = {"email": "ada@example.com", "password": password, "transport": "bearer"}
    return await client.post("/api/v1/auth/sign-in", json=body)


async def test_signing_up_sends_a_verification_link_that_works_once(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    response = await sign_up(client)

    assert response.status_code == 202
    (email,) = await emails_to(container, "ada@example.com")
    assert email.startswith("Confirm your email address")
    token = await link_token(container, "ada@example.com")
    signed_in = await sign_in(client)
    assert signed_in.json()["user"]["email_verified"] is False

    verified = await client.post("/api/v1/auth/verify-email", json={"token": token})
    again = await client.post("/api/v1/auth/verify-email", json={"token": token})

    assert verified.status_code == 200
    assert verified.json()["email_verified"] is True
    assert again.status_code == 400
    assert again.json()["type"] == BASE + "identity/invalid-token"


async def test_signing_up_with_a_registered_email_answers_the_same_and_tells_the_owner(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    first = await sign_up(client)
    second = await sign_up(client, email="ADA@example.com", password="another-" + STRONG)

    assert (first.status_code, first.json()) == (second.status_code, second.json())
    emails = await emails_to(container, "ada@example.com")
    assert [e.split("\n", 1)[0] for e in emails] == [
        "Confirm your email address",
        "You already have an account",
    ]
    assert (await sign_in(client)).status_code == 200, "the first password still holds"


@pytest.mark.parametrize("password", ["password123", "qwertyuiop", "ada-example"])
async def test_a_common_or_guessable_password_is_refused_with_reasons(
    client: httpx.AsyncClient, container: ApplicationContainer, password: str
) -> None:
    response = await sign_up(client, password=password)

    assert response.status_code == 422
    body = response.json()
    assert body["type"] == BASE + "identity/weak-password"
    assert body["field"] == "password"
    assert body["problems"]
    assert await emails_to(container, "ada@example.com") == []


async def test_forgot_password_answers_the_same_for_unknown_emails_and_sends_nothing(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    await sign_up(client)
    known = await client.post("/api/v1/auth/password/forgot", json={"email": "ada@example.com"})
    unknown = await client.post("/api/v1/auth/password/forgot", json={"email": "bob@example.com"})

    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    assert known.status_code == 202
    assert await emails_to(container, "bob@example.com") == []
    assert (await emails_to(container, "ada@example.com"))[-1].startswith("Reset your password")


async def test_a_password_reset_sets_the_password_and_ends_every_session(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    await sign_up(client)
    old_session = (await sign_in(client)).json()["token"]
    await client.post("/api/v1/auth/password/forgot", json={"email": "ada@example.com"})
    token = await link_token(container, "ada@example.com")
    new_password = "granite-orchard-lantern-92"

    reset = await client.post(
        "/api/v1/auth/password/reset", json={"token": token, "password": new_password}
    )

    assert reset.status_code == 204
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {old_session}"})
    assert me.status_code == 401
    assert (await sign_in(client)).status_code == 401
    assert (await sign_in(client, password=new_password)).status_code == 200
    reused = await client.post(
        "/api/v1/auth/password/reset", json={"token": token, "password": new_password}
    )
    assert reused.status_code == 400


async def test_a_reset_link_expires_after_an_hour(
    client: httpx.AsyncClient, container: ApplicationContainer, clock: FixedClock
) -> None:
    await sign_up(client)
    await client.post("/api/v1/auth/password/forgot", json={"email": "ada@example.com"})
    token = await link_token(container, "ada@example.com")

    clock.advance(timedelta(hours=1, seconds=1))
    response = await client.post(
        "/api/v1/auth/password/reset",
        json={"token": token, "password": "granite-orchard-lantern-92"},
    )

    assert response.status_code == 400
    assert response.json()["type"] == BASE + "identity/invalid-token"


async def test_a_newer_reset_link_supersedes_the_older_one(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    await sign_up(client)
    await client.post("/api/v1/auth/password/forgot", json={"email": "ada@example.com"})
    older = await link_token(container, "ada@example.com")
    await client.post("/api/v1/auth/password/forgot", json={"email": "ada@example.com"})

    response = await client.post(
        "/api/v1/auth/password/reset",
        json={"token": older, "password": "granite-orchard-lantern-92"},
    )

    assert response.status_code == 400


async def test_a_verification_token_cannot_reset_a_password(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    await sign_up(client)
    token = await link_token(container, "ada@example.com")

    response = await client.post(
        "/api/v1/auth/password/reset",
        json={"token": token, "password": "granite-orchard-lantern-92"},
    )

    assert response.status_code == 400
