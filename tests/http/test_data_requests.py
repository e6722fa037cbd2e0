"""Data export and deletion over HTTP: a user's export and its expiring link, a
workspace owner's export, an account deletion with its grace period (password, sole
owners, cancel), a purged workspace erased in every system, and the staff list."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from adapters.sql.billing.store_tables import subscriptions
from adapters.sql.identity.repositories import SqlUserRepository
from adapters.sql.notifications.outbox import list_emails
from adapters.sql.workflows.tables import webhook_endpoints
from core.identity import StaffRole, WorkspaceRole
from core.kernel import FixedClock
from entrypoints.containers import ApplicationContainer
from entrypoints.jobs import PURGE_WORKSPACES, Nothing
from entrypoints.safety.data_jobs import EXPIRE_EXPORTS, DataTick
from entrypoints.settings import Settings
from entrypoints.testing.billing import subscribe
from entrypoints.testing.people import PASSWORD, Person, join, person, workspace_of
from entrypoints.testing.workflows import run_jobs

BASE = "https://ninefold.dev/problems/"


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


async def emails_to(container: ApplicationContainer, who: Person, category: str) -> list[Any]:
    async with container.unit_of_work() as uow:
        sent = await list_emails(uow.session, limit=100, to=who.email)
    return [email for email in sent if email.category == category]


async def run(container: ApplicationContainer, *jobs: Any) -> None:
    async with container.unit_of_work() as uow:
        queue = container.workflows.job_queue(uow=uow)
        for job_type, payload in jobs:
            await queue.enqueue(job_type, payload)
        await uow.commit()
    await run_jobs(container)


async def test_an_export_is_built_by_a_job_and_its_link_works_until_it_expires(
    client: httpx.AsyncClient,
    container: ApplicationContainer,
    clock: FixedClock,
    settings: Settings,
) -> None:
    ada = await person(client, container, "ada")
    asked = ok(await client.post("/api/v1/me/export", headers=ada.headers), 202)
    again = ok(await client.post("/api/v1/me/export", headers=ada.headers), 202)
    assert (asked["state"], asked["download_url"]) == ("requested", None)
    assert again["id"] == asked["id"]  # one on its way: the same one

    await run_jobs(container)
    (ready,) = ok(await client.get("/api/v1/me/exports", headers=ada.headers))
    assert ready["state"] == "ready"
    assert ready["expires_at"] is not None
    download = await client.get(ready["download_url"], headers=ada.headers)

    assert download.status_code == 200, download.text
    assert download.headers["cache-control"] == "no-store"
    archive = zipfile.ZipFile(io.BytesIO(download.content))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["request_id"] == ready["id"]
    assert ready["size"] == len(download.content)
    (told,) = await emails_to(container, ada, "safety.data_export_ready")
    assert told.subject == "Your export is ready"
    assert ready["download_url"] in told.text

    clock.advance(timedelta(hours=settings.data_export_link_hours))
    expired_link = await client.get(ready["download_url"], headers=ada.headers)
    problem(expired_link, 404, "safety/export-not-found")
    await run(container, (EXPIRE_EXPORTS, DataTick()))
    (expired,) = ok(await client.get("/api/v1/me/exports", headers=ada.headers))
    assert (expired["state"], expired["download_url"]) == ("expired", None)
    assert list((Path(settings.data_dir) / "exports").glob("*.zip")) == []


async def test_a_link_is_for_its_requester_only(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    ada = await person(client, container, "ada")
    eve = await person(client, container, "eve")
    ok(await client.post("/api/v1/me/export", headers=ada.headers), 202)
    await run_jobs(container)
    (ready,) = ok(await client.get("/api/v1/me/exports", headers=ada.headers))
    link = ready["download_url"]

    assert (await client.get(link)).status_code == 401  # a link leaked into a log
    problem(await client.get(link, headers=eve.headers), 404, "safety/export-not-found")
    unknown = await client.get("/api/v1/exports/nope", headers=ada.headers)
    problem(unknown, 404, "safety/export-not-found")
    assert (await client.get(link, headers=ada.headers)).status_code == 200


async def test_a_workspace_export_is_for_its_owners_only(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    ada = await person(client, container, "ada")
    bob = await person(client, container, "bob")
    eve = await person(client, container, "eve")
    acme = await workspace_of(client, ada)
    await join(container, acme, bob, WorkspaceRole.ADMIN)
    path = f"/api/v1/workspaces/{acme}/export"

    asked = ok(await client.post(path, headers=ada.headers), 202)
    problem(await client.post(path, headers=bob.headers), 403, "permission-denied")
    assert (await client.post(path, headers=eve.headers)).status_code == 404
    await run_jobs(container)

    (ready,) = ok(await client.get(f"/api/v1/workspaces/{acme}/exports", headers=ada.headers))
    assert ready["id"] == asked["id"]
    link = ready["download_url"]
    assert (await client.get(link, headers=bob.headers)).status_code == 404  # an admin
    archive = zipfile.ZipFile(io.BytesIO((await client.get(link, headers=ada.headers)).content))
    members = json.loads(archive.read("identity/members.json"))
    assert {m["user_id"] for m in members} == {ada.user_id, bob.user_id}
    assert json.loads(archive.read("manifest.json"))["subject"] == {
        "kind": "workspace",
        "id": acme,
    }
    # The workspace's export is not in its owner's own list.
    assert ok(await client.get("/api/v1/me/exports", headers=ada.headers)) == []


async def test_deleting_an_account_asks_for_the_password(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    ada = await person(client, container, "ada")
    wrong = await client.post(
        "/api/v1/me/deletion", json={"password": "not-it"}, headers=ada.headers
    )
    problem(wrong, 403, "identity/wrong-password")
    problem(
        await client.get("/api/v1/me/deletion", headers=ada.headers),
        404,
        "safety/data-request-not-found",
    )


async def test_the_only_owner_of_a_workspace_transfers_or_deletes_it_first(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    ada = await person(client, container, "ada")
    bob = await person(client, container, "bob")
    acme = await workspace_of(client, ada)
    await join(container, acme, bob, WorkspaceRole.MEMBER)
    ask = {"json": {"password": PASSWORD}, "headers": ada.headers}

    refused = problem(await client.post("/api/v1/me/deletion", **ask), 409, "safety/sole-owner")
    assert refused["workspaces"] == [acme]

    promoted = await client.patch(
        f"/api/v1/workspaces/{acme}/members/{bob.user_id}",
        json={"role": "owner"},
        headers=ada.headers,
    )
    assert promoted.status_code == 200, promoted.text
    scheduled = ok(await client.post("/api/v1/me/deletion", **ask), 202)
    assert scheduled["state"] == "scheduled"


async def test_a_deletion_is_canceled_during_the_grace_period_and_nothing_is_erased(
    client: httpx.AsyncClient, container: ApplicationContainer, clock: FixedClock
) -> None:
    ada = await person(client, container, "ada")
    scheduled = ok(
        await client.post("/api/v1/me/deletion", json={"password": PASSWORD}, headers=ada.headers),
        202,
    )
    again = ok(
        await client.post("/api/v1/me/deletion", json={"password": PASSWORD}, headers=ada.headers),
        202,
    )
    assert again["id"] == scheduled["id"]
    (told,) = await emails_to(container, ada, "safety.account_deletion_scheduled")
    assert told.subject == "Your account will be deleted"
    assert ok(await client.get("/api/v1/me/deletion", headers=ada.headers))["id"] == scheduled["id"]

    canceled = ok(await client.delete("/api/v1/me/deletion", headers=ada.headers))
    assert canceled["state"] == "canceled"
    problem(
        await client.delete("/api/v1/me/deletion", headers=ada.headers),
        404,
        "safety/data-request-not-found",
    )

    clock.advance(timedelta(days=31))
    async with container.unit_of_work() as uow:
        assert await container.safety.data(uow=uow).due_deletions() == []
        assert await SqlUserRepository(uow.session).get(ada.user_id) is not None


async def test_a_purged_workspace_is_erased_in_every_system_and_listed_for_staff(
    client: httpx.AsyncClient, container: ApplicationContainer, clock: FixedClock
) -> None:
    ada = await person(client, container, "ada")
    acme = await workspace_of(client, ada)
    hooks = await client.post(
        f"/api/v1/workspaces/{acme}/webhooks",
        json={"url": "http://127.0.0.1:9/hook"},
        headers=ada.headers,
    )
    assert hooks.status_code == 201, hooks.text
    await subscribe(client, container, ada, acme, plan="pro")
    deleted = await client.delete(f"/api/v1/workspaces/{acme}", headers=ada.headers)
    assert deleted.status_code == 200, deleted.text
    await run_jobs(container)

    clock.advance(timedelta(days=31))
    await run(container, (PURGE_WORKSPACES, Nothing()))

    async with container.unit_of_work() as uow:
        left = {
            table.name: (
                await uow.session.execute(
                    select(func.count()).select_from(table).where(table.c.workspace_id == acme)
                )
            ).scalar_one()
            for table in (webhook_endpoints, subscriptions)
        }
    assert left == {"workflows_webhook_endpoints": 0, "billing_subscriptions": 0}
    root = await staff(client, container, "rosa", StaffRole.SUPERADMIN)
    listed = ok(
        await client.get(
            "/api/v1/admin/data-requests", params={"kind": "deletion"}, headers=root.headers
        )
    )
    (erased,) = listed["requests"]
    assert (erased["subject_kind"], erased["subject_id"], erased["state"]) == (
        "workspace",
        acme,
        "erased",
    )


async def test_the_staff_list_needs_data_manage(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    support = await staff(client, container, "sam", StaffRole.SUPPORT)
    ada = await person(client, container, "ada")
    ok(await client.post("/api/v1/me/export", headers=ada.headers), 202)

    refused = await client.get("/api/v1/admin/data-requests", headers=support.headers)
    assert refused.status_code == 403, refused.text
    assert (await client.get("/api/v1/admin/data-requests", headers=ada.headers)).status_code == 404
    root = await staff(client, container, "rosa", StaffRole.SUPERADMIN)
    listed = ok(
        await client.get(
            "/api/v1/admin/data-requests", params={"state": "requested"}, headers=root.headers
        )
    )
    (request,) = listed["requests"]
    assert (request["kind"], request["subject_id"]) == ("export", ada.user_id)


async def test_staff_export_a_users_data_on_their_behalf_and_download_it(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    ada = await person(client, container, "ada")
    root = await staff(client, container, "rosa", StaffRole.SUPERADMIN)
    admin = "/api/v1/admin/data-requests"
    ask = {"kind": "export", "subject_kind": "user", "subject_id": ada.user_id}

    missing = {**ask, "subject_id": "usr_nobody", "reason": "ticket 12: a legal request"}
    problem(
        await client.post(admin, json=missing, headers=root.headers),
        404,
        "safety/data-request-not-found",
    )
    asked = ok(
        await client.post(admin, json={**ask, "reason": "ticket 12"}, headers=root.headers), 202
    )
    await run_jobs(container)
    (listed,) = ok(await client.get(admin, headers=root.headers))["requests"]

    assert (listed["id"], listed["requested_by"], listed["state"]) == (
        asked["id"],
        root.user_id,
        "ready",
    )
    assert (await client.get(listed["download_url"], headers=root.headers)).status_code == 200
    (hers,) = ok(await client.get("/api/v1/me/exports", headers=ada.headers))
    assert (await client.get(hers["download_url"], headers=ada.headers)).status_code == 200


async def test_staff_schedule_and_cancel_an_accounts_deletion_with_a_reason(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    ada = await person(client, container, "ada")
    acme = await workspace_of(client, ada)
    root = await staff(client, container, "rosa", StaffRole.SUPERADMIN)
    admin = "/api/v1/admin/data-requests"
    deletion = {"kind": "deletion", "subject_kind": "user", "subject_id": ada.user_id}
    reason = {"reason": "ticket 13: asked by email, identity checked"}

    ws = {**deletion, "subject_kind": "workspace", "subject_id": acme, **reason}
    problem(await client.post(admin, json=ws, headers=root.headers), 422, "validation-error")
    problem(
        await client.post(admin, json={**deletion, **reason}, headers=root.headers),
        409,
        "safety/sole-owner",
    )
    gone = await client.delete(f"/api/v1/workspaces/{acme}", headers=ada.headers)
    assert gone.status_code == 200, gone.text
    scheduled = ok(await client.post(admin, json={**deletion, **reason}, headers=root.headers), 202)
    assert ok(await client.get("/api/v1/me/deletion", headers=ada.headers))["id"] == scheduled["id"]

    cancel = f"{admin}/{scheduled['id']}/cancel"
    canceled = ok(await client.post(cancel, json=reason, headers=root.headers))
    assert canceled["state"] == "canceled"
    problem(
        await client.post(cancel, json=reason, headers=root.headers),
        409,
        "safety/data-request-state",
    )


async def test_staff_impersonating_a_user_can_neither_export_nor_delete_their_data(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    ada = await person(client, container, "ada")
    support = await staff(client, container, "sam", StaffRole.SUPPORT)
    started = await client.post(
        "/api/v1/admin/impersonations",
        json={"user_id": ada.user_id, "reason": "ticket 9: a page", "transport": "bearer"},
        headers=support.headers,
    )
    as_ada = {"Authorization": f"Bearer {ok(started, 201)['token']}"}

    exported = await client.post("/api/v1/me/export", headers=as_ada)
    deleted = await client.post("/api/v1/me/deletion", json={"password": PASSWORD}, headers=as_ada)

    problem(exported, 403, "permission-denied")
    problem(deleted, 403, "permission-denied")
    assert ok(await client.get("/api/v1/me/exports", headers=ada.headers)) == []
