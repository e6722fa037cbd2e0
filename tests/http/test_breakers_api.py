"""Circuit breakers for staff over HTTP: ``/api/v1/admin/breakers…``. Support read them;
ops force one open or closed, or reset it, always with a reason; each change is kept
in the breaker's history and raised as an audit event."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from adapters.sql.workflows.tables import outbox
from core.identity import StaffRole
from core.safety import AuditFilter
from entrypoints.containers import ApplicationContainer
from entrypoints.testing.people import Person, person, staff_member, workspace_of

ADMIN = "/api/v1/admin/breakers"
BASE = "https://ninefold.dev/problems/"


@pytest.fixture
async def ops(client: httpx.AsyncClient, container: ApplicationContainer) -> Person:
    return await staff_member(client, container, "ops", StaffRole.OPS)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def problem(response: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["type"] == BASE + kind, body
    return body


async def act(
    client: httpx.AsyncClient, who: Person, name: str, action: str, reason: str = "incident"
) -> httpx.Response:
    return await client.post(
        f"{ADMIN}/{name}/{action}", json={"reason": reason}, headers=who.headers
    )


async def test_staff_see_every_breaker_with_its_state_config_window_and_runbook(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    support = await staff_member(client, container, "sue", StaffRole.SUPPORT)

    shown = ok(await client.get(ADMIN, headers=support.headers))

    by_name = {b["name"]: b for b in shown}
    assert list(by_name) == ["payments", "email", "media", "analytics", "error-tracking"]
    payments = by_name["payments"]
    assert payments["state"] == "closed"
    assert payments["wired"] is True
    assert by_name["media"]["wired"] is False
    assert payments["config"]["minimum_calls"] == 10
    assert payments["config"]["window"] == "count"
    assert by_name["analytics"]["config"]["window"] == "time"
    assert payments["window"] == {
        "calls": 0,
        "failed": 0,
        "slow": 0,
        "failure_rate": 0.0,
        "slow_rate": 0.0,
    }
    assert payments["override"] is None
    assert payments["retry_after"] == 0
    assert payments["runbook"] == "docs/runbooks/breakers/payments.md"
    assert "PaymentProviderUnavailableError" in payments["failures"]


async def test_forcing_open_refuses_provider_calls_and_is_recorded_and_audited(
    client: httpx.AsyncClient, container: ApplicationContainer, ops: Person
) -> None:
    owner = await person(client, container, "ada")
    ws = await workspace_of(client, owner)

    forced = ok(await act(client, ops, "payments", "force-open", "Stripe incident INC-7"))

    assert forced["state"] == "forced_open"
    assert forced["override"]["kind"] == "forced_open"
    assert forced["override"]["changed_by"] == ops.user_id
    assert forced["history"][0]["reason"] == "Stripe incident INC-7"
    assert forced["last_transitions"][0]["to_state"] == "forced_open"
    assert forced["transitions"] == {"closed->forced_open": 1}
    checkout = await client.post(
        f"/api/v1/workspaces/{ws}/billing/checkout",
        json={"plan": "pro", "interval": "month"},
        headers=owner.headers,
    )
    refused = problem(checkout, 503, "safety/circuit-open")
    assert refused["breaker"] == "payments"
    assert refused["state"] == "forced_open"
    assert checkout.headers["retry-after"] == "30"
    async with container.unit_of_work() as uow:
        names = (await uow.session.execute(select(outbox.c.name))).scalars().all()
        audited = await container.safety.audit(uow=uow).page(AuditFilter(action="breaker.*"))
    assert "safety.breaker_forced_open" in names
    [entry] = audited.entries
    assert (entry.action, entry.target_type, entry.target_id) == (
        "breaker.forced_open",
        "breaker",
        "payments",
    )
    assert (entry.actor_id, entry.reason) == (ops.user_id, "Stripe incident INC-7")
    assert entry.before == {"override": "none"}
    assert entry.after == {"override": "forced_open"}


async def test_force_closed_disables_it_and_reset_starts_it_afresh(
    client: httpx.AsyncClient, container: ApplicationContainer, ops: Person
) -> None:
    ok(await act(client, ops, "email", "force-open"))

    closed = ok(await act(client, ops, "email", "force-closed", "the breaker misjudges"))
    assert closed["state"] == "disabled"
    assert closed["override"]["kind"] == "forced_closed"

    reset = ok(await act(client, ops, "email", "reset", "back to normal"))
    assert reset["state"] == "closed"
    assert reset["override"]["kind"] == "none"
    assert [c["kind"] for c in reset["history"]] == ["none", "forced_closed", "forced_open"]
    shown = ok(await client.get(f"{ADMIN}/email", headers=ops.headers))
    assert shown["state"] == "closed"
    async with container.unit_of_work() as uow:
        names = (await uow.session.execute(select(outbox.c.name))).scalars().all()
    assert {"safety.breaker_forced_closed", "safety.breaker_reset"} <= set(names)


async def test_a_change_needs_a_reason_a_known_breaker_and_to_change_something(
    client: httpx.AsyncClient, ops: Person
) -> None:
    problem(await act(client, ops, "payments", "force-open", "  "), 422, "safety/reason-required")
    problem(await act(client, ops, "sms", "force-open"), 404, "safety/unknown-breaker")
    problem(await client.get(f"{ADMIN}/sms", headers=ops.headers), 404, "safety/unknown-breaker")
    ok(await act(client, ops, "payments", "force-open"))
    problem(await act(client, ops, "payments", "force-open"), 409, "safety/breaker-unchanged")
    missing = await client.post(f"{ADMIN}/payments/reset", json={}, headers=ops.headers)
    assert missing.status_code == 400


async def test_users_get_404_support_may_only_read_and_anonymous_401(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    ada = await person(client, container, "ada")
    support = await staff_member(client, container, "sue", StaffRole.SUPPORT)

    assert (await client.get(ADMIN)).status_code == 401
    problem(await client.get(ADMIN, headers=ada.headers), 404, "not-found")
    problem(await act(client, ada, "payments", "force-open"), 404, "not-found")
    ok(await client.get(f"{ADMIN}/payments", headers=support.headers))
    for action in ("force-open", "force-closed", "reset"):
        denied = await act(client, support, "payments", action)
        problem(denied, 403, "identity/staff-permission-denied")
