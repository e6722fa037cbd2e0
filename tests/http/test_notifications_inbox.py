"""The in-app inbox over HTTP: listing with the unread count, pages, marking read, and
the live stream (Server-Sent Events)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from core.notifications import NotificationRequest, Recipient
from entrypoints.containers import ApplicationContainer
from entrypoints.settings import Settings
from entrypoints.testing.people import Person, person
from entrypoints.testing.plugin import settings_with


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # A stream lasts half a second here, polled every 20 ms, so responses end.
    return settings_with(
        settings, notifications_stream_seconds=0.5, notifications_stream_poll_seconds=0.02
    )


async def payment_failed(
    container: ApplicationContainer, who: Person, key: str, workspace_id: str | None = None
) -> None:
    """The billing system's message, sent through the notifications use case."""
    async with container.unit_of_work() as uow:
        await container.notifications.notifier(uow=uow).notify(
            NotificationRequest(
                type="billing.payment_failed",
                recipient=Recipient(
                    user_id=who.user_id, email=who.email, name="Ada", workspace_id=workspace_id
                ),
                data={
                    "workspace_name": "Acme",
                    "amount": "€49.00",
                    "access_until": "2030-01-08",
                    "billing_url": "https://app.example.com/billing",
                },
                idempotency_key=key,
            )
        )
        await uow.commit()


async def inbox(client: httpx.AsyncClient, who: Person, **params: Any) -> dict[str, Any]:
    response = await client.get("/api/v1/me/notifications", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_notification_is_in_its_recipients_inbox_only(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    ada = await person(client, container, "ada")
    bob = await person(client, container, "bob")

    await payment_failed(container, ada, "pf-1")

    mine = await inbox(client, ada)
    assert mine["unread_count"] == 1
    (item,) = mine["notifications"]
    assert item["type"] == "billing.payment_failed"
    assert item["category"] == "billing"
    assert "€49.00" in item["title"] + item["body"]
    assert item["read_at"] is None
    assert (await inbox(client, bob)) == {
        "notifications": [],
        "next_cursor": None,
        "unread_count": 0,
    }


async def test_pages_go_from_newest_to_oldest(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    ada = await person(client, container, "ada")
    for n in range(3):
        await payment_failed(container, ada, f"pf-{n}")

    first = await inbox(client, ada, limit=2)
    second = await inbox(client, ada, limit=2, cursor=first["next_cursor"])

    ids = [n["id"] for n in first["notifications"] + second["notifications"]]
    assert len(ids) == 3
    assert ids == sorted(ids, reverse=True)
    assert second["next_cursor"] is None
    assert first["unread_count"] == second["unread_count"] == 3


async def test_marking_read_one_and_then_all(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    ada = await person(client, container, "ada")
    bob = await person(client, container, "bob")
    for n in range(3):
        await payment_failed(container, ada, f"pf-{n}")
    newest = (await inbox(client, ada))["notifications"][0]["id"]

    stolen = await client.post(f"/api/v1/me/notifications/{newest}/read", headers=bob.headers)
    read = await client.post(f"/api/v1/me/notifications/{newest}/read", headers=ada.headers)
    again = await client.post(f"/api/v1/me/notifications/{newest}/read", headers=ada.headers)

    assert stolen.status_code == 404
    assert stolen.json()["type"].endswith("notifications/notification-not-found")
    assert read.status_code == 200, read.text
    assert read.json()["read_at"] is not None
    assert again.json()["read_at"] == read.json()["read_at"]
    assert (await inbox(client, ada))["unread_count"] == 2
    assert [n["id"] for n in (await inbox(client, ada, unread=True))["notifications"]] == [
        n["id"] for n in (await inbox(client, ada))["notifications"][1:]
    ]

    everything = await client.post("/api/v1/me/notifications/read-all", headers=ada.headers)

    assert everything.json() == {"marked": 2, "unread_count": 0}
    assert (await inbox(client, ada, unread=True))["notifications"] == []


async def test_a_workspace_filter_keeps_that_workspace_and_personal_ones(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    ada = await person(client, container, "ada")
    await payment_failed(container, ada, "acme", workspace_id="wsp_acme")
    await payment_failed(container, ada, "globex", workspace_id="wsp_globex")
    await payment_failed(container, ada, "personal")

    acme = await inbox(client, ada, workspace_id="wsp_acme")

    assert len(acme["notifications"]) == 2
    assert {n["workspace_id"] for n in acme["notifications"]} == {"wsp_acme", None}
    assert acme["unread_count"] == 2


async def test_the_inbox_needs_a_signed_in_user(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/me/notifications")

    assert response.status_code == 401


def events_of(body: str) -> list[dict[str, str]]:
    """The events a browser would dispatch (a block with empty data, like a keep-alive
    comment, dispatches none)."""
    events = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            name, _, value = line.partition(":")
            if name in {"event", "data", "id"}:
                fields[name] = value.strip()
        if fields.get("data"):
            events.append(fields)
    return events


async def test_the_stream_sends_the_unread_count_then_each_new_notification(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    ada = await person(client, container, "ada")
    bob = await person(client, container, "bob")
    await payment_failed(container, ada, "before")

    async def stream(who: Person) -> httpx.Response:
        return await client.get("/api/v1/me/notifications/stream", headers=who.headers)

    adas, bobs = asyncio.create_task(stream(ada)), asyncio.create_task(stream(bob))
    await asyncio.sleep(0.15)  # both streams are open
    await payment_failed(container, ada, "live")
    ada_response, bob_response = await adas, await bobs

    assert ada_response.status_code == 200
    assert ada_response.headers["content-type"].startswith("text/event-stream")
    events = events_of(ada_response.text)
    assert events[0] == {"event": "unread", "data": "1"}
    (live,) = [e for e in events if e.get("event") == "notification"]
    listed = (await inbox(client, ada))["notifications"][0]
    assert live["id"] == listed["id"]
    assert '"type":"billing.payment_failed"' in live["data"]
    assert [e.get("event") for e in events_of(bob_response.text)] == ["unread"]
