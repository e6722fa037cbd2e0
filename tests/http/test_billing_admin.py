"""Staff look at billing over HTTP: ``/api/v1/admin/billing/…``. Support read the
subscriptions and the payment provider's stored webhook events; ops also replay an
event (applied again, idempotently) and grant credits with a reason.

The events are real: the sandbox's checkout page is paid, its signed webhooks go
through the ingestion path and the jobs apply them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec
import pytest
from sqlalchemy import delete, insert, select

from adapters.sql.billing.store_tables import provider_prices
from adapters.sql.workflows.tables import outbox
from core.identity import StaffRole
from entrypoints.containers import ApplicationContainer
from entrypoints.testing.people import Person, person, workspace_of
from entrypoints.testing.workflows import run_jobs

BASE = "https://ninefold.dev/problems/"
ADMIN = "/api/v1/admin/billing"


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


async def settle(container: ApplicationContainer) -> None:
    await container.billing.payment_provider().settle()
    await run_jobs(container)


async def paid_checkout(
    client: httpx.AsyncClient, container: ApplicationContainer, who: Person, ws: str, **body: Any
) -> None:
    started = ok(
        await client.post(
            f"/api/v1/workspaces/{ws}/billing/checkout", json=body, headers=who.headers
        )
    )
    paid = await client.post(f"{urlsplit(started['url']).path}/pay", follow_redirects=False)
    assert paid.status_code == 303, paid.text
    await settle(container)


async def subscribed(
    client: httpx.AsyncClient, container: ApplicationContainer, name: str
) -> tuple[Person, str]:
    """A user and their workspace with a paid Pro subscription."""
    owner = await person(client, container, name)
    ws = await workspace_of(client, owner, f"{name}'s")
    await paid_checkout(client, container, owner, ws, plan="pro", trial=False)
    return owner, ws


async def credits(client: httpx.AsyncClient, who: Person, ws: str) -> Any:
    return ok(await client.get(f"/api/v1/workspaces/{ws}/credits", headers=who.headers))


async def events(client: httpx.AsyncClient, who: Person, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = ok(
        await client.get(f"{ADMIN}/webhook-events", params=params, headers=who.headers)
    )["events"]
    return found


async def published(container: ApplicationContainer, name: str, ws: str) -> list[Any]:
    async with container.unit_of_work() as uow:
        rows = await uow.session.execute(
            select(outbox.c.payload).where(outbox.c.name == name, outbox.c.workspace_id == ws)
        )
        return [msgspec.json.decode(row.payload) for row in rows]


# --- subscriptions -------------------------------------------------------------------------


async def test_staff_list_subscriptions_by_status_and_workspace(
    client: httpx.AsyncClient, container: ApplicationContainer, ops: Person
) -> None:
    _ada, active_ws = await subscribed(client, container, "ada")
    bob, canceled_ws = await subscribed(client, container, "bob")
    ok(
        await client.post(
            f"/api/v1/workspaces/{canceled_ws}/billing/subscription/cancel",
            json={"at_period_end": False},
            headers=bob.headers,
        )
    )
    await settle(container)
    url = f"{ADMIN}/subscriptions"

    everything = ok(await client.get(url, headers=ops.headers))
    active = ok(await client.get(url, params={"status": "active"}, headers=ops.headers))
    canceled = ok(await client.get(url, params={"status": "canceled"}, headers=ops.headers))
    trialing = ok(await client.get(url, params={"status": "trialing"}, headers=ops.headers))
    of_bob = ok(await client.get(url, params={"workspace_id": canceled_ws}, headers=ops.headers))
    bad = await client.get(url, params={"status": "happy"}, headers=ops.headers)

    subs = everything["subscriptions"]
    assert sorted(s["workspace_id"] for s in subs) == sorted([active_ws, canceled_ws])
    assert [s["id"] for s in subs] == sorted(s["id"] for s in subs)
    assert everything["next_cursor"] is None
    assert all(s["provider_subscription_id"] and s["provider"] == "sandbox" for s in subs)
    assert [(s["workspace_id"], s["status"], s["plan"]) for s in active["subscriptions"]] == [
        (active_ws, "active", "pro")
    ]
    assert [(s["workspace_id"], s["status"]) for s in canceled["subscriptions"]] == [
        (canceled_ws, "canceled")
    ]
    assert trialing["subscriptions"] == []
    assert [s["workspace_id"] for s in of_bob["subscriptions"]] == [canceled_ws]
    problem(bad, 400, "invalid-request")

    first = ok(await client.get(url, params={"limit": 1}, headers=ops.headers))
    assert [s["id"] for s in first["subscriptions"]] == [subs[0]["id"]]
    assert first["next_cursor"] == subs[0]["id"]
    second = ok(
        await client.get(
            url, params={"limit": 1, "cursor": first["next_cursor"]}, headers=ops.headers
        )
    )
    assert [s["id"] for s in second["subscriptions"]] == [subs[1]["id"]]
    assert second["next_cursor"] is None


# --- webhook events ------------------------------------------------------------------------


async def test_staff_list_webhook_events_with_filters_and_pages(
    client: httpx.AsyncClient, container: ApplicationContainer, ops: Person
) -> None:
    ada, ws = await subscribed(client, container, "ada")
    await paid_checkout(client, container, ada, ws, product="credits-5000")
    _bob, other_ws = await subscribed(client, container, "bob")

    every = await events(client, ops)

    assert len(every) >= 3
    assert {e["provider"] for e in every} == {"sandbox"}
    assert {e["status"] for e in every} <= {"processed", "ignored"}
    assert any(e["status"] == "processed" for e in every)
    assert all(e["attempts"] >= 0 and e["received_at"] for e in every)
    received = [(e["received_at"], e["event_id"]) for e in every]
    assert received == sorted(received, reverse=True), "newest first"
    assert {e["workspace_id"] for e in every} >= {ws, other_ws}

    kind = every[-1]["type"]
    of_type = await events(client, ops, type=kind)
    assert of_type
    assert {e["type"] for e in of_type} == {kind}
    assert [e["event_id"] for e in of_type] == [e["event_id"] for e in every if e["type"] == kind]
    processed = await events(client, ops, status="processed")
    assert [e["event_id"] for e in processed] == [
        e["event_id"] for e in every if e["status"] == "processed"
    ]
    assert await events(client, ops, status="failed") == []
    assert await events(client, ops, provider="stripe") == []
    assert await events(client, ops, provider="sandbox") == every
    mine = await events(client, ops, workspace_id=ws)
    assert mine
    assert {e["workspace_id"] for e in mine} == {ws}
    bad = await client.get(
        f"{ADMIN}/webhook-events", params={"status": "lost"}, headers=ops.headers
    )
    problem(bad, 400, "invalid-request")

    paged: list[str] = []
    cursor: str | None = None
    for _ in range(len(every) + 1):
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = ok(await client.get(f"{ADMIN}/webhook-events", params=params, headers=ops.headers))
        assert len(page["events"]) <= 2
        paged += [e["event_id"] for e in page["events"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert paged == [e["event_id"] for e in every]
    for forged in ("garbage", "2030-01-01T00:00:00|evt_x", f"{every[0]['received_at']}|"):
        refused = await client.get(
            f"{ADMIN}/webhook-events", params={"cursor": forged}, headers=ops.headers
        )
        assert problem(refused, 422, "validation-error")["field"] == "cursor", forged


async def test_one_stored_event_with_its_body(
    client: httpx.AsyncClient, container: ApplicationContainer, ops: Person
) -> None:
    _ada, ws = await subscribed(client, container, "ada")
    listed = (await events(client, ops, workspace_id=ws))[0]

    found = ok(
        await client.get(
            f"{ADMIN}/webhook-events/sandbox/{listed['event_id']}", headers=ops.headers
        )
    )
    missing = await client.get(f"{ADMIN}/webhook-events/sandbox/evt_nothing", headers=ops.headers)
    other = await client.get(
        f"{ADMIN}/webhook-events/stripe/{listed['event_id']}", headers=ops.headers
    )

    assert {k: v for k, v in found.items() if k != "body"} == listed
    body = msgspec.json.decode(found["body"])
    assert listed["event_id"] in found["body"]
    assert isinstance(body, dict)
    problem(missing, 404, "billing/webhook-event-not-found")
    problem(other, 404, "billing/webhook-event-not-found")


async def test_a_replayed_event_is_applied_again_and_changes_nothing_twice(
    client: httpx.AsyncClient, container: ApplicationContainer, ops: Person
) -> None:
    ada, ws = await subscribed(client, container, "ada")
    await paid_checkout(client, container, ada, ws, product="credits-5000", quantity=2)
    before = await credits(client, ada, ws)
    sub_before = ok(
        await client.get(f"/api/v1/workspaces/{ws}/billing/subscription", headers=ada.headers)
    )["subscription"]
    applied = [e for e in await events(client, ops, workspace_id=ws) if e["status"] == "processed"]
    grants = [e for e in applied if "credits granted" in e["detail"]]
    assert len(grants) == 1, applied

    for event in applied:
        replayed = ok(
            await client.post(
                f"{ADMIN}/webhook-events/sandbox/{event['event_id']}/replay", headers=ops.headers
            ),
            202,
        )
        assert replayed["event_id"] == event["event_id"]
        assert replayed["status"] == "pending"
    pending = await events(client, ops, workspace_id=ws, status="pending")
    assert {e["event_id"] for e in pending} == {e["event_id"] for e in applied}
    await run_jobs(container)

    after = {e["event_id"]: e for e in await events(client, ops, workspace_id=ws)}
    assert all(after[e["event_id"]]["status"] == "processed" for e in applied)
    assert "applied before" in after[grants[0]["event_id"]]["detail"]
    assert await credits(client, ada, ws) == before
    assert len(await published(container, "billing.credits_purchased", ws)) == 1
    assert len(await published(container, "billing.subscription_created", ws)) == 1
    sub_after = ok(
        await client.get(f"/api/v1/workspaces/{ws}/billing/subscription", headers=ada.headers)
    )["subscription"]
    assert sub_after == sub_before
    missing = await client.post(
        f"{ADMIN}/webhook-events/sandbox/evt_nothing/replay", headers=ops.headers
    )
    problem(missing, 404, "billing/webhook-event-not-found")


async def test_an_event_that_failed_is_applied_once_replayed_after_the_fix(
    client: httpx.AsyncClient, container: ApplicationContainer, ops: Person
) -> None:
    ada = await person(client, container, "ada")
    ws = await workspace_of(client, ada)
    started = ok(
        await client.post(
            f"/api/v1/workspaces/{ws}/billing/checkout",
            json={"product": "credits-5000"},
            headers=ada.headers,
        )
    )
    # The price mapping goes missing (a catalog change not synced yet): the payment's
    # event cannot be applied.
    async with container.unit_of_work() as uow:
        kept = (await uow.session.execute(select(provider_prices))).mappings().all()
        await uow.session.execute(delete(provider_prices))
        await uow.commit()
    paid = await client.post(f"{urlsplit(started['url']).path}/pay", follow_redirects=False)
    assert paid.status_code == 303, paid.text
    await settle(container)

    (failed,) = await events(client, ops, status="failed")
    assert failed["workspace_id"] == ws
    assert "ninefold billing sync" in failed["detail"]
    assert (await credits(client, ada, ws))["available"] == 100

    async with container.unit_of_work() as uow:
        await uow.session.execute(insert(provider_prices), [dict(row) for row in kept])
        await uow.commit()
    replayed = ok(
        await client.post(
            f"{ADMIN}/webhook-events/sandbox/{failed['event_id']}/replay", headers=ops.headers
        ),
        202,
    )
    assert replayed["status"] == "pending"
    await run_jobs(container)
    await run_jobs(container)

    shown = ok(
        await client.get(
            f"{ADMIN}/webhook-events/sandbox/{failed['event_id']}", headers=ops.headers
        )
    )
    assert shown["status"] == "processed"
    assert "5000 credits granted" in shown["detail"]
    assert await events(client, ops, status="failed") == []
    assert (await credits(client, ada, ws))["available"] == 5_100
    assert len(await published(container, "billing.credits_purchased", ws)) == 1


# --- credit grants -------------------------------------------------------------------------


async def test_ops_grant_credits_with_a_reason(
    client: httpx.AsyncClient, container: ApplicationContainer, ops: Person
) -> None:
    ada = await person(client, container, "ada")
    ws = await workspace_of(client, ada)
    assert (await credits(client, ada, ws))["available"] == 100
    grant = {
        "workspace_id": ws,
        "amount": 250,
        "reason": "outage on 2029-12-31",
        "idempotency_key": "ticket-42",
    }

    granted = ok(await client.post(f"{ADMIN}/credit-grants", json=grant, headers=ops.headers), 201)
    again = ok(await client.post(f"{ADMIN}/credit-grants", json=grant, headers=ops.headers), 201)

    assert (granted["source"], granted["amount"], granted["remaining"]) == ("staff", 250, 250)
    assert granted["reason"].startswith("outage on 2029-12-31")
    assert ops.user_id in granted["reason"]
    assert granted["expires_at"] is None
    assert again["id"] == granted["id"], "the same key grants once"
    seen = await credits(client, ada, ws)
    assert seen["available"] == 350
    assert [g["id"] for g in seen["grants"] if g["source"] == "staff"] == [granted["id"]]
    listed = ok(
        await client.get(f"/api/v1/workspaces/{ws}/credits/transactions", headers=ada.headers)
    )["transactions"]
    assert listed[0]["amount"] == 250
    assert ops.user_id in (listed[0]["reason"] or "")

    unkeyed = {k: v for k, v in grant.items() if k != "idempotency_key"}
    ok(await client.post(f"{ADMIN}/credit-grants", json=unkeyed, headers=ops.headers), 201)
    assert (await credits(client, ada, ws))["available"] == 600
    for invalid in (
        {**unkeyed, "reason": "no"},
        {**unkeyed, "amount": 0},
        {"workspace_id": ws, "amount": 5},
        {**unkeyed, "expires_at": "2030-02-01T00:00:00"},  # no time zone
    ):
        refused = await client.post(f"{ADMIN}/credit-grants", json=invalid, headers=ops.headers)
        problem(refused, 400, "invalid-request")
    assert (await credits(client, ada, ws))["available"] == 600
    past = await client.post(
        f"{ADMIN}/credit-grants",
        json={**unkeyed, "expires_at": "2029-12-31T00:00:00Z"},
        headers=ops.headers,
    )
    problem(past, 422, "billing/invalid-credit-request")
    reused = await client.post(
        f"{ADMIN}/credit-grants", json={**grant, "amount": 251}, headers=ops.headers
    )
    problem(reused, 409, "billing/ledger-key-reused")
    expiring = ok(
        await client.post(
            f"{ADMIN}/credit-grants",
            json={**grant, "idempotency_key": "ticket-43", "expires_at": "2030-01-15T00:00:00Z"},
            headers=ops.headers,
        ),
        201,
    )
    assert expiring["expires_at"] == "2030-01-15T00:00:00Z"
    assert (await credits(client, ada, ws))["available"] == 850
    nowhere = await client.post(
        f"{ADMIN}/credit-grants", json={**unkeyed, "workspace_id": "ws_nope"}, headers=ops.headers
    )
    problem(nowhere, 404, "identity/workspace-not-found")


# --- who gets in ---------------------------------------------------------------------------


def every_route(ws: str, event_id: str) -> list[tuple[str, str, dict[str, Any] | None, bool]]:
    """(method, path, body, changes something)."""
    grant = {"workspace_id": ws, "amount": 10, "reason": "goodwill", "idempotency_key": "x"}
    return [
        ("GET", f"{ADMIN}/subscriptions", None, False),
        ("GET", f"{ADMIN}/webhook-events", None, False),
        ("GET", f"{ADMIN}/webhook-events/sandbox/{event_id}", None, False),
        ("POST", f"{ADMIN}/webhook-events/sandbox/{event_id}/replay", None, True),
        ("POST", f"{ADMIN}/credit-grants", grant, True),
    ]


async def test_users_get_404_support_may_read_and_ops_may_do_everything(
    client: httpx.AsyncClient, container: ApplicationContainer, ops: Person
) -> None:
    ada, ws = await subscribed(client, container, "ada")
    support = await staff(client, container, "sam", StaffRole.SUPPORT)
    event_id = (await events(client, ops))[0]["event_id"]
    expected = {"GET": 200, "POST": None}

    for method, path, body, changes in every_route(ws, event_id):
        anonymous = await client.request(method, path, json=body)
        as_user = await client.request(method, path, json=body, headers=ada.headers)
        as_support = await client.request(method, path, json=body, headers=support.headers)

        assert anonymous.status_code == 401, (path, anonymous.text)
        problem(as_user, 404, "not-found")
        if changes:
            body_of = problem(as_support, 403, "identity/staff-permission-denied")
            assert "billing:manage" in body_of["detail"]
        else:
            assert as_support.status_code == expected[method], (path, as_support.text)
    assert (await credits(client, ada, ws))["available"] == 1_000, "nothing was granted"
    assert await events(client, ops, status="pending") == []

    for method, path, body, _changes in every_route(ws, event_id):
        as_ops = await client.request(method, path, json=body, headers=ops.headers)
        assert as_ops.status_code in (200, 201, 202), (path, as_ops.text)
    assert (await credits(client, ada, ws))["available"] == 1_010
