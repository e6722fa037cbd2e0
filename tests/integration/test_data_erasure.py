"""Erasure reaches every system: after an account's deletion grace period, no row of any
system's tables (every table of ``SYSTEM_METADATA``) names the person by id, email or
name; what must stay (the ledger, the audit log) names only the pseudonym. And an
export holds every system's part."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from adapters.sql.billing.ledger_tables import ledger_transactions
from adapters.sql.identity.repositories import SqlUserRepository, SqlWorkspaceRepository
from adapters.sql.safety.audit_tables import audit_entries
from adapters.sql.safety.data_tables import data_requests
from adapters.sql.schema import SYSTEM_METADATA
from core.billing import CreditSource
from core.identity import WorkspaceRole
from core.kernel import FixedClock, TenantContext
from core.notifications import NotificationRequest, Recipient
from entrypoints.containers import ApplicationContainer
from entrypoints.jobs import PURGE_WORKSPACES, Nothing
from entrypoints.safety.data_jobs import ERASE_DUE, DataTick
from entrypoints.settings import Settings
from entrypoints.testing.billing import subscribe
from entrypoints.testing.people import PASSWORD, Person, join, person, workspace_of
from entrypoints.testing.workflows import run_jobs

NAME = "zephyrine"  # person() makes zephyrine@example.com, named "zephyrine"


async def rows_naming(container: ApplicationContainer, needles: list[str]) -> list[str]:
    """``table.column: value`` for every value, in every system's tables, that contains
    one of ``needles`` (case-insensitively; binary columns read as UTF-8)."""
    lowered = [needle.lower() for needle in needles]
    found = []
    async with container.unit_of_work() as uow:
        for metadata in SYSTEM_METADATA.values():
            for table in metadata.sorted_tables:
                for row in await uow.session.execute(select(table)):
                    for column, value in row._mapping.items():
                        text = (
                            value.decode("utf-8", "replace") if isinstance(value, bytes) else value
                        )
                        if isinstance(text, str) and any(n in text.lower() for n in lowered):
                            found.append(f"{table.name}.{column}: {text[:160]!r}")
    return found


def tables_of(found: list[str]) -> set[str]:
    return {entry.split(".", 1)[0] for entry in found}


async def in_app_message(container: ApplicationContainer, who: Person, workspace_id: str) -> None:
    async with container.unit_of_work() as uow:
        await container.notifications.notifier(uow=uow).notify(
            NotificationRequest(
                type="billing.payment_failed",
                recipient=Recipient(
                    user_id=who.user_id, email=who.email, name=NAME, workspace_id=workspace_id
                ),
                data={
                    "workspace_name": "Acme",
                    "amount": "€49.00",
                    "access_until": "2030-01-08",
                    "billing_url": "https://app.example.com/billing",
                },
                idempotency_key=f"pf-{who.user_id}",
            )
        )
        await uow.commit()


async def credits_bought_by(
    container: ApplicationContainer, who: Person, workspace_id: str
) -> None:
    async with container.unit_of_work() as uow:
        await container.billing.ledger(uow=uow).grant(
            TenantContext(workspace_id, actor_id=who.user_id),
            source=CreditSource.PURCHASE,
            amount=500,
            key=f"purchase-by-{who.user_id}",
            reason=f"bought by {who.email}",
        )
        await uow.commit()


async def footprint(
    client: httpx.AsyncClient, container: ApplicationContainer, zeph: Person
) -> tuple[str, str]:
    """Leave ``zeph``'s traces in every system; returns (a workspace they are an admin
    of, owned by someone else; a workspace of their own)."""
    orla = await person(client, container, "orla")
    acme = await workspace_of(client, orla, "Acme")
    await join(container, acme, zeph, WorkspaceRole.MEMBER)
    base = f"/api/v1/workspaces/{acme}"
    steps = [
        # A second session, events naming them (outbox, jobs, webhook bodies, audit).
        client.post(
            "/api/v1/auth/sign-in",
            json={"email": zeph.email, "password": PASSWORD, "transport": "bearer"},
        ),
        client.patch(
            f"{base}/members/{zeph.user_id}", json={"role": "admin"}, headers=orla.headers
        ),
        client.post(
            f"{base}/webhooks",
            json={"url": "http://127.0.0.1:9/hook", "description": f"alerts for {zeph.email}"},
            headers=zeph.headers,
        ),
        client.post(
            f"{base}/api-keys",
            json={"name": "laptop", "permissions": ["usage:write"]},
            headers=zeph.headers,
        ),
        # An invitation they sent: its email names them, to someone else.
        client.post(
            f"{base}/invitations",
            json={"email": "newbie@example.com", "role": "member"},
            headers=zeph.headers,
        ),
        # An email to their address.
        client.post("/api/v1/auth/password/forgot", json={"email": zeph.email}),
        client.put(
            "/api/v1/me/notification-preferences",
            json={"preferences": [{"category": "usage", "channel": "email", "enabled": False}]},
            headers=zeph.headers,
        ),
    ]
    for step in steps:
        response = await step
        assert response.status_code < 300, response.text
    await in_app_message(container, zeph, acme)
    # A subscription checked out by them (the provider's customer has their email) and
    # credits they bought (the ledger names them).
    await subscribe(client, container, zeph, acme, plan="pro")
    await credits_bought_by(container, zeph, acme)
    exported = await client.post("/api/v1/me/export", headers=zeph.headers)
    assert exported.status_code == 202, exported.text
    lab = await workspace_of(client, zeph, "Lab")
    await run_jobs(container)
    return acme, lab


async def test_no_row_of_any_system_names_an_erased_user_except_as_the_pseudonym(
    client: httpx.AsyncClient,
    container: ApplicationContainer,
    clock: FixedClock,
    settings: Settings,
) -> None:
    zeph = await person(client, container, NAME)
    acme, _lab = await footprint(client, container, zeph)
    needles = [zeph.user_id, zeph.email, NAME]
    before = await rows_naming(container, needles)
    # The scan sees them everywhere to begin with: every system holds some of their data.
    assert {
        "identity_users",
        "identity_sessions",
        "identity_api_keys",
        "identity_invitations",
        "billing_ledger_transactions",
        "billing_webhook_events",
        "notifications_inbox",
        "notifications_emails",
        "notifications_preferences",
        "workflows_outbox",
        "workflows_jobs",
        "workflows_webhook_endpoints",
        "safety_audit_entries",
        "safety_data_requests",
    } <= tables_of(before), sorted(tables_of(before))
    (export,) = (await client.get("/api/v1/me/exports", headers=zeph.headers)).json()
    archive = Path(settings.data_dir) / "exports"
    assert len(list(archive.glob("*.zip"))) == 1

    lab = (await client.get("/api/v1/workspaces", headers=zeph.headers)).json()
    (own,) = [w["id"] for w in lab if w["role"] == "owner"]
    deleted = await client.delete(f"/api/v1/workspaces/{own}", headers=zeph.headers)
    assert deleted.status_code == 200, deleted.text
    scheduled = await client.post(
        "/api/v1/me/deletion", json={"password": PASSWORD}, headers=zeph.headers
    )
    assert scheduled.status_code == 202, scheduled.text
    await run_jobs(container)

    clock.advance(timedelta(days=settings.account_deletion_grace_days, hours=1))
    # What fell due meanwhile (webhook delivery retries) runs first: an attempt running
    # at the same moment as the erasure could write back the payload it read before.
    await run_jobs(container)
    async with container.unit_of_work() as uow:
        jobs = container.workflows.job_queue(uow=uow)
        await jobs.enqueue(PURGE_WORKSPACES, Nothing())
        await jobs.enqueue(ERASE_DUE, DataTick())
        await uow.commit()
    await run_jobs(container)

    assert await rows_naming(container, needles) == []
    async with container.unit_of_work() as uow:
        request = (
            await uow.session.execute(
                select(data_requests).where(data_requests.c.id == scheduled.json()["id"])
            )
        ).one()
        pseudonym = request.subject_id
        actors = set((await uow.session.execute(select(ledger_transactions.c.actor_id))).scalars())
        audited = [
            " ".join(str(value) for value in row)
            for row in await uow.session.execute(
                select(audit_entries.c.actor_id, audit_entries.c.target_id, audit_entries.c.after)
            )
        ]
        verification = await container.safety.audit(uow=uow).verify()
        ledger = await container.billing.ledger(uow=uow).verify(TenantContext(acme))
        orla = await SqlUserRepository(uow.session).get_by_email("orla@example.com")
        still = await SqlWorkspaceRepository(uow.session).get(TenantContext(acme))
    assert (request.state, request.requested_by) == ("erased", pseudonym)
    assert pseudonym.startswith("erased_")
    assert pseudonym in actors  # the ledger keeps the purchase, naming the pseudonym
    # And so does the audit log (the deletion they asked for), whose chain still holds.
    assert any(pseudonym in entry for entry in audited)
    assert verification.intact, verification.broken
    # Erasure is not a purge: the others' account, their workspace and its ledger stay,
    # and the ledger still balances with the purchase in it.
    assert orla is not None
    assert still is not None
    assert ledger.ok
    assert ledger.derived.available >= 500
    assert export["state"] == "ready"
    assert list(archive.glob("*.zip")) == []  # their archive went with them


async def test_an_export_holds_each_systems_part_of_the_users_data(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    zeph = await person(client, container, NAME)
    acme, _lab = await footprint(client, container, zeph)

    (export,) = (await client.get("/api/v1/me/exports", headers=zeph.headers)).json()
    assert export["state"] == "ready", export
    response = await client.get(export["download_url"], headers=zeph.headers)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    files = set(archive.namelist())
    manifest: dict[str, Any] = json.loads(archive.read("manifest.json"))
    assert set(manifest["systems"]) == {
        "identity",
        "billing",
        "notifications",
        "workflows",
        "safety",
    }
    assert manifest["subject"] == {"kind": "user", "id": zeph.user_id}
    for system, contents in manifest["systems"].items():
        for file in contents:
            assert f"{system}/{file}.json" in files
    (account,) = json.loads(archive.read("identity/account.json"))
    assert (account["id"], account["email"], account["name"]) == (zeph.user_id, zeph.email, NAME)
    assert "password_hash" not in account
    assert "totp_secret" not in account
    sessions = json.loads(archive.read("identity/sessions.json"))
    assert len(sessions) == 2
    assert all("token_hash" not in s for s in sessions)
    memberships = json.loads(archive.read("identity/memberships.json"))
    assert {m["workspace_id"] for m in memberships} >= {acme}
    (purchase,) = json.loads(archive.read("billing/ledger_transactions.json"))
    assert purchase["actor_id"] == zeph.user_id
    (message,) = json.loads(archive.read("notifications/inbox.json"))
    assert message["notification_type"] == "billing.payment_failed"
    assert json.loads(archive.read("notifications/preferences.json"))[0]["enabled"] is False
    emails = json.loads(archive.read("notifications/emails.json"))
    assert any(e["to_address"] == zeph.email for e in emails)
    (request,) = json.loads(archive.read("safety/data_requests.json"))
    assert request["kind"] == "export"
    assert "token" not in request
