"""Log lines: JSON in production, readable in development, with the request context."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import httpx
import pytest
import structlog

from entrypoints.containers import ApplicationContainer
from entrypoints.logging import configure_logging
from entrypoints.settings import Settings
from entrypoints.testing.people import person, workspace_of


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def test_production_logs_are_json_lines_carrying_the_bound_context(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(Settings(env="production"))

    with structlog.contextvars.bound_contextvars(request_id="req-12345678"):
        structlog.get_logger("ninefold.test").info("charged", amount=1200)
        logging.getLogger("some.library").warning("plain stdlib line")

    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert lines[0]["event"] == "charged"
    assert lines[0]["amount"] == 1200
    assert lines[0]["request_id"] == "req-12345678"
    assert lines[0]["level"] == "info"
    assert lines[1]["event"] == "plain stdlib line"
    assert lines[1]["request_id"] == "req-12345678"


def test_secrets_passed_as_fields_are_masked(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(env="production"))

    structlog.get_logger("ninefold.test").info("signed in", password="hunter2", token="abc")

    line = json.loads(capsys.readouterr().err)
    assert line["password"] == line["token"] == "****"


def test_development_logs_are_readable_lines(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(env="development"))

    structlog.get_logger("ninefold.test").info("started", port=8000)

    out = capsys.readouterr().err
    assert "started" in out
    assert "port=8000" in out
    assert not out.lstrip().startswith("{")


async def test_each_request_is_logged_once_with_its_request_id(
    client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(Settings(env="production"))

    response = await client.get("/no/such/page", headers={"X-Request-ID": "trace-00001234"})
    await client.get("/health/live")  # probes are not access-logged

    access = [
        json.loads(line)
        for line in capsys.readouterr().err.splitlines()
        if line.startswith("{") and json.loads(line).get("logger") == "ninefold.access"
    ]
    assert response.headers["x-request-id"] == "trace-00001234"
    assert access == [
        {
            **access[0],
            "event": "request",
            "method": "GET",
            "path": "/no/such/page",
            "status": 404,
            "request_id": "trace-00001234",
        }
    ]


async def test_a_request_in_a_workspace_is_logged_with_user_session_and_workspace(
    client: httpx.AsyncClient,
    container: ApplicationContainer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ada = await person(client, container, "ada")
    workspace = await workspace_of(client, ada)
    configure_logging(Settings(env="production"))

    await client.get(f"/api/v1/workspaces/{workspace}", headers=ada.headers)

    (line,) = [
        json.loads(text)
        for text in capsys.readouterr().err.splitlines()
        if text.startswith("{") and json.loads(text).get("logger") == "ninefold.access"
    ]
    assert line["user_id"] == ada.user_id
    assert line["workspace_id"] == workspace
    assert line["session_id"].startswith("ses_")
