"""The OpenAPI document in contracts/ is the one the app serves."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from litestar import Litestar

from entrypoints.contracts import render
from entrypoints.http.app import openapi_document

CONTRACT = Path(__file__).resolve().parents[2] / "contracts" / "openapi.json"


def test_contracts_openapi_json_is_current(app: Litestar) -> None:
    assert CONTRACT.read_text() == render(openapi_document(app)), "stale: run 'make contracts'"


async def test_the_app_serves_its_openapi_document(client: httpx.AsyncClient) -> None:
    response = await client.get("/schema/openapi.json")

    assert response.status_code == 200
    assert response.json()["paths"].keys() == json.loads(CONTRACT.read_text())["paths"].keys()
