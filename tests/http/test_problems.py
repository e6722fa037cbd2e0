"""Every error is RFC 9457 problem+json with a stable type, and changes nothing."""

from __future__ import annotations

import httpx

from entrypoints.containers import ApplicationContainer

Client = httpx.AsyncClient
PROBLEM = "application/problem+json"
BASE = "https://ninefold.dev/problems/"


async def test_an_unknown_route_is_a_404_problem(client: Client) -> None:
    response = await client.get("/api/v1/nowhere")

    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == BASE + "not-found"
    assert body["status"] == 404
    assert body["instance"] == "/api/v1/nowhere"
    assert body["request_id"] == response.headers["x-request-id"]


async def test_a_wrong_method_is_a_405_problem_naming_the_allowed_ones(client: Client) -> None:
    response = await client.delete("/health/live")

    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == BASE + "method-not-allowed"
    assert "GET" in response.headers["allow"]


async def test_malformed_json_is_a_400_problem_and_stores_nothing(
    probe_client: Client, container: ApplicationContainer
) -> None:
    response = await probe_client.post(
        "/probe/users",
        content=b'{"email": "ada@example.com", ',
        headers={"content-type": "application/json"},
    )

    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == BASE + "malformed-body"
    assert await users_stored(container) == 0


async def test_a_body_of_the_wrong_shape_is_a_400_problem_listing_what_to_fix(
    probe_client: Client,
) -> None:
    response = await probe_client.post("/probe/users", json={"email": 42})

    assert response.status_code == 400
    body = response.json()
    assert body["type"] == BASE + "invalid-request"
    assert body["errors"], "the problem says which fields are wrong"


async def test_an_oversized_body_is_a_413_problem(
    probe_client: Client, container: ApplicationContainer
) -> None:
    limit = container.settings().max_body_bytes
    payload = b'{"email": "' + b"a" * (limit + 1) + b'", "password": "x"}'

    response = await probe_client.post(
        "/probe/users", content=payload, headers={"content-type": "application/json"}
    )

    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == BASE + "payload-too-large"
    assert await users_stored(container) == 0


async def test_a_domain_error_becomes_its_problem_and_rolls_the_request_back(
    probe_client: Client, container: ApplicationContainer
) -> None:
    response = await probe_client.post(
        "/probe/users-then-conflict", json={"email": "ada@example.com", "password": "correct horse"}
    )

    assert response.status_code == 409
    body = response.json()
    assert body["type"] == BASE + "conflict"
    assert body["detail"] == "changed my mind"
    assert body["hint"] == "retry later"
    assert await users_stored(container) == 0


async def test_a_successful_request_commits_once_and_its_event_is_published(
    probe_client: Client, container: ApplicationContainer
) -> None:
    response = await probe_client.post(
        "/probe/users", json={"email": "ada@example.com", "password": "correct horse"}
    )

    assert response.status_code == 201
    assert await users_stored(container) == 1
    assert await container.workflows.outbox_relay().drain() == 1


async def test_a_domain_validation_error_names_the_field(probe_client: Client) -> None:
    response = await probe_client.post(
        "/probe/users", json={"email": "not-an-email", "password": "correct horse"}
    )

    assert response.status_code == 422
    body = response.json()
    assert body["type"] == BASE + "identity/invalid-email"
    assert body["field"] == "email"


async def test_a_crash_is_a_500_problem_without_internals_outside_development(
    probe_client: Client,
) -> None:
    response = await probe_client.get("/probe/crash")

    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == BASE + "internal-error"
    assert "secret internals" not in response.text
    assert "Traceback" not in response.text


async def users_stored(container: ApplicationContainer) -> int:
    async with container.unit_of_work() as uow:
        return await container.identity.service(uow=uow).user_count()
