"""Staff operate the jobs over HTTP: ``/api/v1/admin/jobs`` and ``/api/v1/admin/queues``.

Jobs of two test job types run through the app's real engine: ``run_jobs`` relays and
runs every due job, a handler that raises ``PermanentJobError`` dead-letters its job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import msgspec
import pytest
from structlog.testing import capture_logs

from adapters.sql.identity.repositories import SqlUserRepository
from core.identity import StaffRole
from core.kernel import FixedClock
from core.workflows import Job, JobContext, JobType, PermanentJobError, RetryPolicy
from entrypoints.containers import ApplicationContainer, build_container, close_container
from entrypoints.http.app import create_app
from entrypoints.http.workflows.admin import payload_value
from entrypoints.jobs import register_jobs
from entrypoints.settings import Settings
from entrypoints.testing.people import Person, person
from entrypoints.testing.plugin import serve_in_process, settings_with
from entrypoints.testing.workflows import run_jobs

BASE = "https://ninefold.dev/problems/"


class Report(msgspec.Struct, frozen=True):
    number: int


_once = RetryPolicy(max_attempts=3, base_delay=1.0, max_delay=1.0, jitter=False)
BUILD_REPORT = JobType("reports.build", Report, queue="reports", retry=_once)
SEND_DIGEST = JobType("mail.send_digest", Report, queue="mail", retry=_once)


@dataclass
class Handlers:
    """The test job types' handler: ``broken`` names fail for good; the rest run."""

    broken: set[str] = field(default_factory=set)
    ran: list[tuple[str, int]] = field(default_factory=list)

    async def __call__(self, payload: Report, context: JobContext) -> None:
        if context.name in self.broken:
            raise PermanentJobError(f"{context.name}: the template is missing")
        self.ran.append((context.name, payload.number))


@pytest.fixture
def handlers(container: ApplicationContainer) -> Handlers:
    register_jobs(container)  # the app's handlers first: it registers nothing once any exist
    handle = Handlers()
    registry = container.workflows.registry()
    registry.register(BUILD_REPORT, handle)
    registry.register(SEND_DIGEST, handle)
    return handle


async def enqueue(
    container: ApplicationContainer, job_type: JobType[Report], number: int, **options: Any
) -> Job:
    async with container.unit_of_work() as uow:
        job = await container.workflows.job_queue(uow=uow).enqueue(
            job_type, Report(number), **options
        )
        await uow.commit()
    return job


async def dead_job(
    container: ApplicationContainer, handlers: Handlers, job_type: JobType[Report], number: int
) -> Job:
    handlers.broken.add(job_type.name)
    job = await enqueue(container, job_type, number)
    await run_jobs(container)
    handlers.broken.discard(job_type.name)
    return job


async def staff(
    client: httpx.AsyncClient, container: ApplicationContainer, name: str, role: StaffRole
) -> Person:
    who = await person(client, container, name)
    async with container.unit_of_work() as uow:
        await container.identity.staff(uow=uow).set_staff_role(who.email, role)
        await uow.commit()
    return who


def requests_of_every_route(job_id: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("GET", "/api/v1/admin/jobs", None),
        ("GET", f"/api/v1/admin/jobs/{job_id}", None),
        ("POST", f"/api/v1/admin/jobs/{job_id}/retry", None),
        ("POST", f"/api/v1/admin/jobs/{job_id}/cancel", None),
        ("POST", "/api/v1/admin/jobs/replay", {"queue": "reports"}),
        ("GET", "/api/v1/admin/queues", None),
    ]


# --- who gets in ---------------------------------------------------------------------------


async def test_anonymous_gets_401_a_user_who_is_not_staff_404_and_support_403(
    client: httpx.AsyncClient, container: ApplicationContainer, handlers: Handlers
) -> None:
    job = await enqueue(container, BUILD_REPORT, 1)
    ada = await person(client, container, "ada")
    support = await staff(client, container, "support", StaffRole.SUPPORT)

    for method, path, body in requests_of_every_route(job.id):
        anonymous = await client.request(method, path, json=body)
        as_user = await client.request(method, path, json=body, headers=ada.headers)
        as_support = await client.request(method, path, json=body, headers=support.headers)

        assert anonymous.status_code == 401, path
        assert as_user.status_code == 404, path
        assert as_user.json()["type"] == BASE + "not-found"
        assert as_support.status_code == 403, path
        assert as_support.json()["type"] == BASE + "identity/staff-permission-denied"
    async with container.workflows.open_store()() as store:
        unchanged = await store.get(job.id)
    assert unchanged is not None
    assert unchanged.state == "queued"


async def test_ops_and_superadmin_may_look_and_act(
    client: httpx.AsyncClient, container: ApplicationContainer, handlers: Handlers
) -> None:
    job = await enqueue(container, BUILD_REPORT, 1)
    ops = await staff(client, container, "ops", StaffRole.OPS)
    root = await staff(client, container, "root", StaffRole.SUPERADMIN)

    for who in (ops, root):
        listed = await client.get("/api/v1/admin/jobs", headers=who.headers)
        assert listed.status_code == 200, listed.text
        assert [j["id"] for j in listed.json()["jobs"]] == [job.id]
    cancelled = await client.post(f"/api/v1/admin/jobs/{job.id}/cancel", headers=root.headers)
    assert cancelled.status_code == 200, cancelled.text


async def test_staff_need_two_factor_for_the_jobs_when_the_setting_requires_it(
    settings: Settings,
) -> None:
    container = build_container(
        settings_with(settings, staff_require_2fa=True, session_cache_seconds=0)
    )
    try:
        async with serve_in_process(create_app(container, run_worker=False)) as client:
            ops = await staff(client, container, "ops", StaffRole.OPS)
            without = await client.get("/api/v1/admin/queues", headers=ops.headers)
            async with container.unit_of_work() as uow:
                now = container.kernel.clock().now()
                await SqlUserRepository(uow.session).set_totp(ops.user_id, "JBSWY3DPEHPK3PXP", now)
                await uow.commit()
            with_2fa = await client.get("/api/v1/admin/queues", headers=ops.headers)
    finally:
        await close_container(container)

    assert without.status_code == 403
    assert without.json()["type"] == BASE + "identity/staff-2fa-required"
    assert with_2fa.status_code == 200


# --- listing -------------------------------------------------------------------------------


async def test_jobs_are_listed_newest_first_and_filtered_by_state_queue_and_name(
    client: httpx.AsyncClient, container: ApplicationContainer, handlers: Handlers
) -> None:
    ops = await staff(client, container, "ops", StaffRole.OPS)
    dead = await dead_job(container, handlers, BUILD_REPORT, 1)
    report = await enqueue(container, BUILD_REPORT, 2)
    digest = await enqueue(container, SEND_DIGEST, 3)

    async def ids(query: str) -> list[str]:
        response = await client.get(f"/api/v1/admin/jobs{query}", headers=ops.headers)
        assert response.status_code == 200, response.text
        return [job["id"] for job in response.json()["jobs"]]

    assert await ids("") == [digest.id, report.id, dead.id]
    assert await ids("?state=dead") == [dead.id]
    assert await ids("?state=queued") == [digest.id, report.id]
    assert await ids("?queue=mail") == [digest.id]
    assert await ids("?name=reports.build") == [report.id, dead.id]
    assert await ids("?name=reports.build&state=queued&queue=reports") == [report.id]
    assert await ids("?queue=nothing-here") == []
    summary = (await client.get("/api/v1/admin/jobs?state=dead", headers=ops.headers)).json()
    assert summary["jobs"][0] | {"created_at": None, "run_at": None, "finished_at": None} == {
        "id": dead.id,
        "name": "reports.build",
        "queue": "reports",
        "state": "dead",
        "priority": 0,
        "attempts": 1,
        "max_attempts": 3,
        "created_at": None,
        "run_at": None,
        "finished_at": None,
        "workspace_id": None,
        "last_error": "PermanentJobError: reports.build: the template is missing",
    }


async def test_a_cursor_walks_the_pages_and_the_last_page_has_no_next_cursor(
    client: httpx.AsyncClient, container: ApplicationContainer, handlers: Handlers
) -> None:
    ops = await staff(client, container, "ops", StaffRole.OPS)
    created = [(await enqueue(container, BUILD_REPORT, n)).id for n in range(5)]

    seen: list[str] = []
    cursors: list[str | None] = []
    cursor: str | None = None
    while True:
        query = "?queue=reports&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = (await client.get(f"/api/v1/admin/jobs{query}", headers=ops.headers)).json()
        seen += [job["id"] for job in page["jobs"]]
        cursor = page["next_cursor"]
        cursors.append(cursor)
        if cursor is None:
            break

    assert seen == list(reversed(created))
    assert len(cursors) == 3
    full_last_page = await client.get(
        f"/api/v1/admin/jobs?limit=5&cursor={created[-1]}", headers=ops.headers
    )
    assert len(full_last_page.json()["jobs"]) == 4
    assert full_last_page.json()["next_cursor"] is None
    exact = await client.get("/api/v1/admin/jobs?limit=4", headers=ops.headers)
    assert exact.json()["next_cursor"] == created[1]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("state=frozen", "state"),
        ("limit=201", "limit"),
        ("limit=0", "limit"),
        ("queue=" + "q" * 41, "queue"),
    ],
)
async def test_a_bad_filter_is_a_400_problem_naming_the_parameter(
    client: httpx.AsyncClient, container: ApplicationContainer, query: str, parameter: str
) -> None:
    ops = await staff(client, container, "ops", StaffRole.OPS)

    response = await client.get(f"/api/v1/admin/jobs?{query}", headers=ops.headers)

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == BASE + "invalid-request"
    assert [error["key"] for error in response.json()["errors"]] == [parameter]


# --- one job -------------------------------------------------------------------------------


async def test_a_job_in_full_shows_its_payload_options_and_attempt_history(
    client: httpx.AsyncClient,
    container: ApplicationContainer,
    handlers: Handlers,
    clock: FixedClock,
) -> None:
    ops = await staff(client, container, "ops", StaffRole.OPS)
    job = await dead_job(container, handlers, BUILD_REPORT, 7)

    response = await client.get(f"/api/v1/admin/jobs/{job.id}", headers=ops.headers)

    assert response.status_code == 200, response.text
    shown = response.json()
    assert shown["payload"] == {"number": 7}
    assert shown["state"] == "dead"
    assert shown["attempts"] == 1
    assert shown["attempts_left"] == 2
    assert shown["retry"] == {
        "max_attempts": 3,
        "base_delay": 1.0,
        "max_delay": 1.0,
        "jitter": False,
    }
    assert shown["timeout"] == 300.0
    assert shown["queue"] == "reports"
    assert shown["idempotency_key"] is None
    assert shown["lease_until"] is None
    assert shown["last_error"] == "PermanentJobError: reports.build: the template is missing"
    [attempt] = shown["history"]
    assert attempt["number"] == 1
    assert attempt["outcome"] == "failed"
    assert attempt["error"] == shown["last_error"]
    assert attempt["worker"]


async def test_keys_and_the_lease_of_a_running_job_are_shown(
    client: httpx.AsyncClient, container: ApplicationContainer, handlers: Handlers
) -> None:
    ops = await staff(client, container, "ops", StaffRole.OPS)
    job = await enqueue(
        container, BUILD_REPORT, 1, idempotency_key="report-1", concurrency_key="acme"
    )
    runner = container.workflows.job_runner(queues=("reports",))
    [claimed] = await runner.claim()

    shown = (await client.get(f"/api/v1/admin/jobs/{job.id}", headers=ops.headers)).json()

    assert claimed.id == job.id
    assert shown["state"] == "running"
    assert shown["idempotency_key"] == "report-1"
    assert shown["concurrency_key"] == "acme"
    assert shown["worker"] == runner.worker
    assert shown["lease_until"] is not None
    assert shown["started_at"] is not None


def test_a_payload_that_is_not_json_is_shown_as_text() -> None:
    assert payload_value(b'{"a": [1, 2]}') == {"a": [1, 2]}
    assert payload_value(b"not json at all") == "not json at all"
    assert payload_value(b"\xff\xfe") == "\ufffd\ufffd"


async def test_an_unknown_job_is_a_404_job_not_found_on_every_job_route(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    ops = await staff(client, container, "ops", StaffRole.OPS)

    for method, path in [
        ("GET", "/api/v1/admin/jobs/job_nothing"),
        ("POST", "/api/v1/admin/jobs/job_nothing/retry"),
        ("POST", "/api/v1/admin/jobs/job_nothing/cancel"),
    ]:
        response = await client.request(method, path, headers=ops.headers)

        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["type"] == BASE + "workflows/job-not-found"


# --- retry, cancel, replay -------------------------------------------------------------------


async def test_a_dead_job_retried_is_queued_with_fresh_attempts_and_runs_again(
    client: httpx.AsyncClient, container: ApplicationContainer, handlers: Handlers
) -> None:
    ops = await staff(client, container, "ops", StaffRole.OPS)
    job = await dead_job(container, handlers, BUILD_REPORT, 42)
    assert handlers.ran == []

    with capture_logs() as logs:
        retried = await client.post(f"/api/v1/admin/jobs/{job.id}/retry", headers=ops.headers)

    assert retried.status_code == 200, retried.text
    assert retried.json()["state"] == "queued"
    assert retried.json()["attempts"] == 0
    assert await run_jobs(container) == 1
    assert handlers.ran == [("reports.build", 42)]
    after = (await client.get(f"/api/v1/admin/jobs/{job.id}", headers=ops.headers)).json()
    assert after["state"] == "succeeded"
    assert [a["outcome"] for a in after["history"]] == ["failed", "succeeded"]
    [line] = [entry for entry in logs if entry["event"] == "staff action"]
    assert line["staff_id"] == ops.user_id
    assert line["action"] == "jobs.retry"
    assert line["job_id"] == job.id


async def test_only_dead_or_cancelled_jobs_can_be_retried(
    client: httpx.AsyncClient, container: ApplicationContainer, handlers: Handlers
) -> None:
    ops = await staff(client, container, "ops", StaffRole.OPS)
    queued = await enqueue(container, BUILD_REPORT, 1)

    response = await client.post(f"/api/v1/admin/jobs/{queued.id}/retry", headers=ops.headers)

    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == BASE + "workflows/job-not-retryable"


async def test_a_cancelled_job_never_runs_and_can_be_retried_later(
    client: httpx.AsyncClient, container: ApplicationContainer, handlers: Handlers
) -> None:
    ops = await staff(client, container, "ops", StaffRole.OPS)
    job = await enqueue(container, BUILD_REPORT, 5)

    with capture_logs() as logs:
        cancelled = await client.post(f"/api/v1/admin/jobs/{job.id}/cancel", headers=ops.headers)
    again = await client.post(f"/api/v1/admin/jobs/{job.id}/cancel", headers=ops.headers)

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled"
    assert cancelled.json()["finished_at"] is not None
    assert again.status_code == 200
    assert await run_jobs(container) == 0
    assert handlers.ran == []
    assert [(e["action"], e["job_id"]) for e in logs if e["event"] == "staff action"] == [
        ("jobs.cancel", job.id)
    ]
    retried = await client.post(f"/api/v1/admin/jobs/{job.id}/retry", headers=ops.headers)
    assert retried.json()["state"] == "queued"
    assert await run_jobs(container) == 1


async def test_a_finished_job_cannot_be_cancelled(
    client: httpx.AsyncClient, container: ApplicationContainer, handlers: Handlers
) -> None:
    ops = await staff(client, container, "ops", StaffRole.OPS)
    job = await enqueue(container, BUILD_REPORT, 1)
    await run_jobs(container)

    response = await client.post(f"/api/v1/admin/jobs/{job.id}/cancel", headers=ops.headers)

    assert response.status_code == 409
    assert response.json()["type"] == BASE + "workflows/job-already-finished"


async def test_replay_queues_again_only_the_dead_jobs_of_the_queue_or_job_type_named(
    client: httpx.AsyncClient, container: ApplicationContainer, handlers: Handlers
) -> None:
    ops = await staff(client, container, "ops", StaffRole.OPS)
    reports = [await dead_job(container, handlers, BUILD_REPORT, n) for n in (1, 2)]
    digest = await dead_job(container, handlers, SEND_DIGEST, 3)

    by_queue = await client.post(
        "/api/v1/admin/jobs/replay", json={"queue": "reports"}, headers=ops.headers
    )

    assert by_queue.status_code == 200, by_queue.text
    assert by_queue.json() == {"replayed": 2}
    assert await run_jobs(container) == 2
    assert sorted(handlers.ran) == [("reports.build", 1), ("reports.build", 2)]
    for job in reports:
        shown = (await client.get(f"/api/v1/admin/jobs/{job.id}", headers=ops.headers)).json()
        assert shown["state"] == "succeeded"
    still_dead = (await client.get("/api/v1/admin/jobs?state=dead", headers=ops.headers)).json()
    assert [j["id"] for j in still_dead["jobs"]] == [digest.id]

    by_name = await client.post(
        "/api/v1/admin/jobs/replay", json={"name": "mail.send_digest"}, headers=ops.headers
    )
    nothing_left = await client.post(
        "/api/v1/admin/jobs/replay", json={"name": "mail.send_digest"}, headers=ops.headers
    )

    assert by_name.json() == {"replayed": 1}
    assert nothing_left.json() == {"replayed": 0}


async def test_replay_of_everything_must_be_asked_for_with_all(
    client: httpx.AsyncClient, container: ApplicationContainer, handlers: Handlers
) -> None:
    ops = await staff(client, container, "ops", StaffRole.OPS)
    await dead_job(container, handlers, BUILD_REPORT, 1)
    await dead_job(container, handlers, SEND_DIGEST, 2)

    refused = await client.post("/api/v1/admin/jobs/replay", json={}, headers=ops.headers)
    everything = await client.post(
        "/api/v1/admin/jobs/replay", json={"all": True}, headers=ops.headers
    )

    assert refused.status_code == 422
    assert refused.json()["type"] == BASE + "validation-error"
    assert refused.json()["field"] == "all"
    assert everything.json() == {"replayed": 2}


async def test_replay_of_cancelled_jobs_leaves_the_dead_ones(
    client: httpx.AsyncClient, container: ApplicationContainer, handlers: Handlers
) -> None:
    ops = await staff(client, container, "ops", StaffRole.OPS)
    dead = await dead_job(container, handlers, BUILD_REPORT, 1)
    cancelled = await enqueue(container, BUILD_REPORT, 2)
    await client.post(f"/api/v1/admin/jobs/{cancelled.id}/cancel", headers=ops.headers)

    replayed = await client.post(
        "/api/v1/admin/jobs/replay",
        json={"state": "cancelled", "queue": "reports"},
        headers=ops.headers,
    )

    assert replayed.json() == {"replayed": 1}
    queued = (await client.get("/api/v1/admin/jobs?state=queued", headers=ops.headers)).json()
    assert [j["id"] for j in queued["jobs"]] == [cancelled.id]
    shown = (await client.get(f"/api/v1/admin/jobs/{dead.id}", headers=ops.headers)).json()
    assert shown["state"] == "dead"


@pytest.mark.parametrize(
    "body",
    [
        {"state": "queued", "queue": "reports"},
        {"queue": ""},
        {"queue": "reports", "everything": True},
        {"all": "yes"},
    ],
)
async def test_a_bad_replay_body_is_a_400_problem(
    client: httpx.AsyncClient, container: ApplicationContainer, body: dict[str, Any]
) -> None:
    ops = await staff(client, container, "ops", StaffRole.OPS)

    response = await client.post("/api/v1/admin/jobs/replay", json=body, headers=ops.headers)

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")


# --- queues --------------------------------------------------------------------------------


async def test_queues_show_depth_age_and_the_last_hour_with_this_processs_counters(
    client: httpx.AsyncClient,
    container: ApplicationContainer,
    handlers: Handlers,
    clock: FixedClock,
) -> None:
    ops = await staff(client, container, "ops", StaffRole.OPS)
    await enqueue(container, BUILD_REPORT, 1)
    await run_jobs(container)  # one succeeded
    await dead_job(container, handlers, BUILD_REPORT, 2)  # one dead, failed this hour
    await enqueue(container, BUILD_REPORT, 3)
    clock.advance(timedelta(seconds=30))
    await enqueue(container, BUILD_REPORT, 4)
    await enqueue(container, BUILD_REPORT, 5, delay=timedelta(hours=1))
    await enqueue(container, SEND_DIGEST, 6)
    await container.workflows.job_runner(queues=("mail",)).claim()

    response = await client.get("/api/v1/admin/queues", headers=ops.headers)

    assert response.status_code == 200, response.text
    queues = {q["queue"]: q for q in response.json()["queues"]}
    reports = queues["reports"]
    assert reports | {"this_process": None} == {
        "queue": "reports",
        "waiting": 2,
        "scheduled": 1,
        "running": 0,
        "dead": 1,
        "oldest_waiting_seconds": 30.0,
        "failed_last_hour": 1,
        "succeeded_last_hour": 1,
        "this_process": None,
    }
    counters = reports["this_process"]
    assert counters["enqueued"] == 5
    assert counters["started"] == 2
    assert counters["succeeded"] == 1
    assert counters["dead"] == 1
    assert counters["run_seconds_total"] >= 0
    assert queues["mail"]["running"] == 1
    assert queues["mail"]["waiting"] == 0
    assert queues["mail"]["this_process"]["started"] == 1

    clock.advance(timedelta(hours=2))
    later = (await client.get("/api/v1/admin/queues", headers=ops.headers)).json()
    reports_later = {q["queue"]: q for q in later["queues"]}["reports"]
    assert reports_later["failed_last_hour"] == 0
    assert reports_later["succeeded_last_hour"] == 0
    assert reports_later["waiting"] == 3  # the delayed one is due now
    assert reports_later["scheduled"] == 0


async def test_without_jobs_the_queues_are_empty(
    client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    ops = await staff(client, container, "ops", StaffRole.OPS)

    response = await client.get("/api/v1/admin/queues", headers=ops.headers)

    assert response.status_code == 200
    assert response.json() == {"queues": []}
