"""Staff read the mail over HTTP: ``/api/v1/admin/outbox``, ``/api/v1/admin/deliveries``
and ``/api/v1/admin/suppressions``; ops add and remove suppressed addresses.

Mail is made by the real use case (``NotificationService.notify``) in a unit of work of
the test's own, as a system that notifies someone does. Signing people up sends them a
verification email too, so the assertions pick their own mail by address.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from core.identity import StaffRole
from core.notifications import (
    Delivery,
    EmailMessage,
    NotificationRequest,
    Notifier,
    Recipient,
    SuppressionReason,
)
from entrypoints.containers import ApplicationContainer
from entrypoints.http.notifications.outbox_views import PAGE_MAX
from entrypoints.testing.people import Person, person

BASE = "https://ninefold.dev/problems/"
VERIFY = "identity.verify_email"


async def staff(
    client: httpx.AsyncClient, container: ApplicationContainer, name: str, role: StaffRole
) -> Person:
    who = await person(client, container, name)
    async with container.unit_of_work() as uow:
        await container.identity.staff(uow=uow).set_staff_role(who.email, role)
        await uow.commit()
    return who


async def notify(
    container: ApplicationContainer,
    email: str,
    key: str,
    *,
    user_id: str | None = "usr_test",
    name: str = "Ada",
) -> tuple[Delivery, ...]:
    """Send ``identity.verify_email`` to ``email`` through the real use case."""
    async with container.unit_of_work() as uow:
        notifier: Notifier = container.notifications.notifier(uow=uow)
        deliveries = await notifier.notify(
            NotificationRequest(
                type=VERIFY,
                recipient=Recipient(user_id=user_id, email=email, name=name),
                data={"name": name, "link": "https://x/verify", "hours": 24},
                idempotency_key=key,
            )
        )
        await uow.commit()
    return deliveries


async def outbox(
    client: httpx.AsyncClient, who: Person, **params: Any
) -> tuple[list[dict[str, Any]], str | None]:
    response = await client.get("/api/v1/admin/outbox", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    return body["emails"], body["next_cursor"]


def requests_of_every_route() -> list[tuple[str, str, dict[str, Any] | None, bool]]:
    """(method, path, body, changes something)."""
    return [
        ("GET", "/api/v1/admin/outbox", None, False),
        ("GET", "/api/v1/admin/outbox/eml_nothing", None, False),
        ("GET", "/api/v1/admin/deliveries", None, False),
        ("GET", "/api/v1/admin/suppressions", None, False),
        ("POST", "/api/v1/admin/suppressions", {"address": "x@example.com"}, True),
        ("DELETE", "/api/v1/admin/suppressions/x@example.com", None, True),
    ]


# --- who gets in ---------------------------------------------------------------------------


async def test_anonymous_gets_401_a_user_404_and_support_may_read_but_not_change(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    ada = await person(client, container, "ada")
    support = await staff(client, container, "support", StaffRole.SUPPORT)

    for method, path, body, changes in requests_of_every_route():
        anonymous = await client.request(method, path, json=body)
        as_user = await client.request(method, path, json=body, headers=ada.headers)
        as_support = await client.request(method, path, json=body, headers=support.headers)

        assert anonymous.status_code == 401, path
        assert as_user.status_code == 404, path
        assert as_user.json()["type"] == BASE + "not-found", path
        if changes:
            assert as_support.status_code == 403, path
            assert as_support.json()["type"] == BASE + "identity/staff-permission-denied"
        else:
            assert as_support.status_code in (200, 404), path
            if as_support.status_code == 404:
                assert as_support.json()["type"] == BASE + "notifications/email-not-found"
    listed = await client.get("/api/v1/admin/suppressions", headers=support.headers)
    assert listed.json()["suppressions"] == []


async def test_ops_and_superadmin_may_read_and_manage(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    ops = await staff(client, container, "ops", StaffRole.OPS)
    root = await staff(client, container, "root", StaffRole.SUPERADMIN)

    for who, address in ((ops, "one@example.com"), (root, "two@example.com")):
        for path in ("/api/v1/admin/outbox", "/api/v1/admin/deliveries"):
            response = await client.get(path, headers=who.headers)
            assert response.status_code == 200, response.text
        added = await client.post(
            "/api/v1/admin/suppressions", json={"address": address}, headers=who.headers
        )
        assert added.status_code == 201, added.text
        removed = await client.delete(f"/api/v1/admin/suppressions/{address}", headers=who.headers)
        assert removed.status_code == 204, removed.text


# --- the outbox ----------------------------------------------------------------------------


async def test_the_outbox_lists_newest_first_and_filters_by_address(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    support = await staff(client, container, "support", StaffRole.SUPPORT)
    await notify(container, "grace@example.com", "k1")
    await notify(container, "linus@example.com", "k2")
    await notify(container, "grace@example.com", "k3")

    newest, _ = await outbox(client, support, limit=3)
    graces, cursor = await outbox(client, support, to="grace@example.com")
    typed_otherwise, _ = await outbox(client, support, to=" Grace@Example.COM ")
    nobody, _ = await outbox(client, support, to="nobody@example.com")

    assert [e["to"] for e in newest] == [
        "grace@example.com",
        "linus@example.com",
        "grace@example.com",
    ]
    assert newest[0]["id"] > newest[1]["id"] > newest[2]["id"]
    assert [e["id"] for e in graces] == [newest[0]["id"], newest[2]["id"]]
    assert cursor is None
    assert typed_otherwise == graces
    assert nobody == []
    first = graces[0]
    assert set(first) == {"id", "to", "subject", "category", "status", "created_at"}
    assert first["category"] == VERIFY
    assert first["status"] == "queued"
    assert first["subject"]
    assert first["created_at"].endswith(("Z", "+00:00"))


async def test_a_cursor_walks_the_outbox_and_the_last_page_has_no_next_cursor(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    support = await staff(client, container, "support", StaffRole.SUPPORT)
    for number in range(5):
        await notify(container, "grace@example.com", f"k{number}")

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"to": "grace@example.com", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        emails, cursor = await outbox(client, support, **params)
        pages += 1
        seen += [e["id"] for e in emails]
        if cursor is None:
            break
        assert cursor == emails[-1]["id"]

    assert pages == 3
    assert len(seen) == 5
    assert seen == sorted(seen, reverse=True)
    exactly, after_exactly = await outbox(client, support, to="grace@example.com", limit=5)
    assert [e["id"] for e in exactly] == seen
    assert after_exactly is None


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": PAGE_MAX + 1}, {"limit": "many"}], ids=str
)
async def test_a_bad_page_size_is_a_400_problem(
    client: httpx.AsyncClient, container: ApplicationContainer, params: dict[str, Any]
) -> None:
    support = await staff(client, container, "support", StaffRole.SUPPORT)

    for path in ("/api/v1/admin/outbox", "/api/v1/admin/deliveries", "/api/v1/admin/suppressions"):
        response = await client.get(path, params=params, headers=support.headers)
        assert response.status_code == 400, path
        assert response.json()["type"] == BASE + "invalid-request"


async def test_an_email_in_full_shows_its_bodies_headers_and_delivery(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    support = await staff(client, container, "support", StaffRole.SUPPORT)
    [delivery] = await notify(container, "grace@example.com", "k1", user_id="usr_grace")
    [summary], _ = await outbox(client, support, to="grace@example.com")

    response = await client.get(f"/api/v1/admin/outbox/{summary['id']}", headers=support.headers)

    assert response.status_code == 200, response.text
    email = response.json()
    assert email["id"] == summary["id"]
    assert email["to"] == "grace@example.com"
    assert email["category"] == VERIFY
    assert email["idempotency_key"] == delivery.idempotency_key == "k1:email"
    assert "https://x/verify" in email["text"]
    assert email["subject"] == summary["subject"]
    assert isinstance(email["headers"], dict)
    shown = email["delivery"]
    assert shown["id"] == delivery.id
    assert shown["status"] == "queued"
    assert shown["channel"] == "email"
    assert shown["address"] == "grace@example.com"
    assert shown["user_id"] == "usr_grace"
    assert shown["notification_type"] == VERIFY
    assert shown["queued_at"] is not None
    for field in ("sent_at", "delivered_at", "bounced_at", "failed_at", "suppressed_at"):
        assert shown[field] is None, field
    assert {"provider", "provider_message_id", "error", "updated_at"} <= set(shown)


async def test_an_email_stored_without_a_delivery_shows_its_headers_and_none(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    support = await staff(client, container, "support", StaffRole.SUPPORT)
    headers = {"List-Unsubscribe": "<https://x/unsubscribe>", "X-Entity-Ref-ID": "42"}
    async with container.unit_of_work() as uow:
        await container.notifications.email_sender(uow.session).send(
            EmailMessage(
                to="grace@example.com",
                subject="By hand",
                text="plain",
                html="<p>plain</p>",
                category="tests.by_hand",
                idempotency_key="by-hand-1",
                headers=headers,
            )
        )
        await uow.commit()
    [summary], _ = await outbox(client, support, to="grace@example.com")

    email = (
        await client.get(f"/api/v1/admin/outbox/{summary['id']}", headers=support.headers)
    ).json()

    assert email["headers"] == headers
    assert email["html"] == "<p>plain</p>"
    assert email["text"] == "plain"
    assert email["delivery"] is None


async def test_an_unknown_email_is_a_404_problem(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    support = await staff(client, container, "support", StaffRole.SUPPORT)

    response = await client.get("/api/v1/admin/outbox/eml_nothing", headers=support.headers)

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == BASE + "notifications/email-not-found"
    assert "eml_nothing" in response.json()["detail"]


# --- deliveries ----------------------------------------------------------------------------


async def test_deliveries_are_listed_newest_first_and_filtered(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    ops = await staff(client, container, "ops", StaffRole.OPS)
    [first] = await notify(container, "grace@example.com", "k1", user_id="usr_grace")
    [second] = await notify(container, "linus@example.com", "k2", user_id="usr_linus")
    added = await client.post(
        "/api/v1/admin/suppressions", json={"address": "mallory@example.com"}, headers=ops.headers
    )
    assert added.status_code == 201
    [suppressed] = await notify(container, "Mallory@Example.com", "k3", user_id="usr_mallory")

    async def ids(**params: Any) -> list[str]:
        response = await client.get("/api/v1/admin/deliveries", params=params, headers=ops.headers)
        assert response.status_code == 200, response.text
        return [d["id"] for d in response.json()["deliveries"]]

    assert (await ids(limit=3)) == [suppressed.id, second.id, first.id]
    assert await ids(user_id="usr_grace") == [first.id]
    assert await ids(address="LINUS@example.com") == [second.id]
    assert await ids(status="suppressed") == [suppressed.id]
    assert suppressed.id not in await ids(status="queued")
    assert first.id in await ids(channel="email", type=VERIFY)
    assert await ids(channel="sms") == []
    assert await ids(type="billing.nothing") == []
    [shown] = (
        await client.get(
            "/api/v1/admin/deliveries", params={"status": "suppressed"}, headers=ops.headers
        )
    ).json()["deliveries"]
    assert shown["suppressed_at"] is not None
    assert shown["address"] == "mallory@example.com"


async def test_a_cursor_walks_the_deliveries(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    support = await staff(client, container, "support", StaffRole.SUPPORT)
    made = [
        (await notify(container, "grace@example.com", f"k{n}", user_id="usr_grace"))[0].id
        for n in range(3)
    ]

    params: dict[str, Any] = {"user_id": "usr_grace", "limit": 2}
    first = (
        await client.get("/api/v1/admin/deliveries", params=params, headers=support.headers)
    ).json()
    second = (
        await client.get(
            "/api/v1/admin/deliveries",
            params={**params, "cursor": first["next_cursor"]},
            headers=support.headers,
        )
    ).json()

    assert [d["id"] for d in first["deliveries"]] == made[::-1][:2]
    assert first["next_cursor"] == made[1]
    assert [d["id"] for d in second["deliveries"]] == [made[0]]
    assert second["next_cursor"] is None


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("status", "lost", "queued, sent, delivered"),
        ("channel", "pigeon", "email, sms, in_app"),
    ],
)
async def test_a_bad_delivery_filter_is_a_400_problem_saying_what_is_allowed(
    client: httpx.AsyncClient, container: ApplicationContainer, key: str, value: str, allowed: str
) -> None:
    support = await staff(client, container, "support", StaffRole.SUPPORT)

    response = await client.get(
        "/api/v1/admin/deliveries", params={key: value}, headers=support.headers
    )

    assert response.status_code == 400
    problem = response.json()
    assert problem["type"] == BASE + "invalid-request"
    [error] = problem["errors"]
    assert error["key"] == key
    assert repr(value) in error["message"]
    assert allowed in error["message"]


# --- suppressions --------------------------------------------------------------------------


async def test_ops_suppress_an_address_by_hand_and_remove_it_each_change_logged(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    ops = await staff(client, container, "ops", StaffRole.OPS)
    support = await staff(client, container, "support", StaffRole.SUPPORT)

    with capture_logs() as logs:
        added = await client.post(
            "/api/v1/admin/suppressions",
            json={"address": " Grace@Example.com ", "reason": "manual", "detail": "asked by mail"},
            headers=ops.headers,
        )
        again = await client.post(
            "/api/v1/admin/suppressions",
            json={"address": "grace@example.com", "detail": "twice"},
            headers=ops.headers,
        )
        listed = await client.get("/api/v1/admin/suppressions", headers=support.headers)
        removed = await client.delete(
            "/api/v1/admin/suppressions/GRACE@example.com", headers=ops.headers
        )
        gone = await client.delete(
            "/api/v1/admin/suppressions/grace@example.com", headers=ops.headers
        )
        after = await client.get("/api/v1/admin/suppressions", headers=support.headers)

    assert added.status_code == 201, added.text
    assert added.json()["address"] == "grace@example.com"
    assert added.json()["reason"] == SuppressionReason.MANUAL.value
    assert added.json()["detail"] == "asked by mail"
    assert added.json()["delivery_id"] is None
    assert again.status_code == 200  # suppressed already: the first one stays
    assert again.json()["detail"] == "asked by mail"
    assert [s["address"] for s in listed.json()["suppressions"]] == ["grace@example.com"]
    assert removed.status_code == 204
    assert gone.status_code == 404
    assert gone.json()["type"] == BASE + "notifications/suppression-not-found"
    assert after.json() == {"suppressions": [], "next_cursor": None}
    actions = [
        (line["action"], line["address"], line["staff_id"])
        for line in logs
        if line["event"] == "staff action"
    ]
    assert actions == [
        ("notifications.suppress", "grace@example.com", ops.user_id),
        ("notifications.unsuppress", "grace@example.com", ops.user_id),
    ]


async def test_a_suppressed_address_is_sent_nothing_until_it_is_removed(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    ops = await staff(client, container, "ops", StaffRole.OPS)
    await client.post(
        "/api/v1/admin/suppressions", json={"address": "grace@example.com"}, headers=ops.headers
    )

    [blocked] = await notify(container, "grace@example.com", "k1")
    nothing, _ = await outbox(client, ops, to="grace@example.com")
    await client.delete("/api/v1/admin/suppressions/grace@example.com", headers=ops.headers)
    [sent] = await notify(container, "grace@example.com", "k2")
    one, _ = await outbox(client, ops, to="grace@example.com")

    assert blocked.status.value == "suppressed"
    assert nothing == []
    assert sent.status.value == "queued"
    assert len(one) == 1


async def test_suppressions_are_listed_by_address_a_page_at_a_time(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    ops = await staff(client, container, "ops", StaffRole.OPS)
    for address in ("c@example.com", "a@example.com", "b@example.com"):
        response = await client.post(
            "/api/v1/admin/suppressions", json={"address": address}, headers=ops.headers
        )
        assert response.status_code == 201

    first = (
        await client.get("/api/v1/admin/suppressions", params={"limit": 2}, headers=ops.headers)
    ).json()
    second = (
        await client.get(
            "/api/v1/admin/suppressions",
            params={"limit": 2, "cursor": first["next_cursor"]},
            headers=ops.headers,
        )
    ).json()

    assert [s["address"] for s in first["suppressions"]] == ["a@example.com", "b@example.com"]
    assert first["next_cursor"] == "b@example.com"
    assert [s["address"] for s in second["suppressions"]] == ["c@example.com"]
    assert second["next_cursor"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"address": "not-an-address"},
        {"address": "grace@example.com", "reason": "bounce"},
        {"address": "grace@example.com", "detail": "x" * 501},
        {"address": "grace@example.com", "surprise": True},
        {},
    ],
    ids=["address", "reason", "detail", "unknown-field", "empty"],
)
async def test_a_bad_suppression_is_a_400_problem_and_adds_nothing(
    client: httpx.AsyncClient, container: ApplicationContainer, body: dict[str, Any]
) -> None:
    ops = await staff(client, container, "ops", StaffRole.OPS)

    response = await client.post("/api/v1/admin/suppressions", json=body, headers=ops.headers)

    assert response.status_code == 400, response.text
    assert response.json()["type"] == BASE + "invalid-request"
    listed = await client.get("/api/v1/admin/suppressions", headers=ops.headers)
    assert listed.json()["suppressions"] == []
