"""Notification preferences over HTTP, and one-click unsubscribe links (RFC 8058)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx

from adapters.sql.notifications.outbox import list_emails
from core.notifications import Channel, NotificationRequest, Recipient
from entrypoints.containers import ApplicationContainer
from entrypoints.testing.people import Person, person
from entrypoints.testing.workflows import run_jobs

PREFERENCES = "/api/v1/me/notification-preferences"


async def credits_low(container: ApplicationContainer, who: Person, key: str) -> list[Channel]:
    """The billing system's opt-out message; the channels it went out on."""
    async with container.unit_of_work() as uow:
        deliveries = await container.notifications.notifier(uow=uow).notify(
            NotificationRequest(
                type="billing.credits_low",
                recipient=Recipient(user_id=who.user_id, email=who.email, name="Ada"),
                data={
                    "workspace_name": "Acme",
                    "balance": "120 credits",
                    "threshold": "500 credits",
                    "billing_url": "https://app.example.com/billing",
                },
                idempotency_key=key,
            )
        )
        await uow.commit()
    return [delivery.channel for delivery in deliveries]


async def preferences(client: httpx.AsyncClient, who: Person) -> dict[str, Any]:
    response = await client.get(PREFERENCES, headers=who.headers)
    assert response.status_code == 200, response.text
    return {p["category"]: p for p in response.json()["preferences"]}


async def test_only_categories_a_person_may_choose_are_listed_with_their_defaults(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    ada = await person(client, container, "ada")

    found = await preferences(client, ada)

    # Security, account and billing messages are not choices: everyone receives them.
    assert found == {
        "usage": {"category": "usage", "channels": {"email": True, "in_app": True}, "chosen": {}}
    }


async def test_choices_are_saved_and_forgotten(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    ada = await person(client, container, "ada")

    off = await client.put(
        PREFERENCES,
        json={"preferences": [{"category": "usage", "channel": "email", "enabled": False}]},
        headers=ada.headers,
    )
    assert off.status_code == 200, off.text
    assert (await preferences(client, ada))["usage"]["channels"] == {"email": False, "in_app": True}
    assert await credits_low(container, ada, "low-1") == [Channel.IN_APP]

    reset = await client.put(
        PREFERENCES,
        json={"preferences": [{"category": "usage", "channel": "email", "enabled": None}]},
        headers=ada.headers,
    )
    assert reset.status_code == 200, reset.text
    assert (await preferences(client, ada))["usage"]["chosen"] == {}
    assert await credits_low(container, ada, "low-2") == [Channel.EMAIL, Channel.IN_APP]


async def test_a_choice_that_cannot_be_made_is_refused_and_nothing_changes(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    ada = await person(client, container, "ada")

    refused = await client.put(
        PREFERENCES,
        json={
            "preferences": [
                {"category": "usage", "channel": "email", "enabled": False},
                {"category": "security", "channel": "email", "enabled": False},
            ]
        },
        headers=ada.headers,
    )
    malformed = await client.put(
        PREFERENCES,
        json={"preferences": [{"category": "usage", "channel": "pigeon", "enabled": False}]},
        headers=ada.headers,
    )

    assert refused.status_code == 422
    assert refused.json()["type"].endswith("notifications/invalid-preference")
    assert malformed.status_code == 400
    assert (await preferences(client, ada))["usage"]["chosen"] == {}


async def test_one_click_unsubscribe_turns_the_category_off_without_signing_in(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    ada = await person(client, container, "ada")
    await credits_low(container, ada, "low-1")
    await run_jobs(container)
    async with container.unit_of_work() as uow:
        (email,) = [
            e
            for e in await list_emails(uow.session, 10, to=ada.email)
            if e.category == "billing.credits_low"
        ]
    assert email.headers is not None
    assert email.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = email.headers["List-Unsubscribe"].strip("<>")
    assert link in email.text  # the footer carries the same link
    target = urlsplit(link)
    path = f"{target.path}?{target.query}"

    page = await client.get(path)  # opening the link only asks
    assert page.status_code == 200
    assert '<form method="post"' in page.text
    assert (await preferences(client, ada))["usage"]["chosen"] == {}

    done = await client.post(path, content=b"List-Unsubscribe=One-Click")

    assert done.status_code == 200, done.text
    assert done.json() == {"unsubscribed": True, "category": "usage", "channel": "email"}
    assert (await preferences(client, ada))["usage"]["chosen"] == {"email": False}
    assert await credits_low(container, ada, "low-2") == [Channel.IN_APP]


async def test_a_forged_unsubscribe_token_is_refused(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    path = "/api/v1/notifications/unsubscribe?token=djE6dXNyXzE6dXNhZ2U6ZW1haWw.forged"

    page = await client.get(path)
    posted = await client.post(path)

    assert page.status_code == 422
    assert "does not work" in page.text
    assert posted.status_code == 422
    assert posted.json()["type"].endswith("notifications/invalid-unsubscribe-token")
