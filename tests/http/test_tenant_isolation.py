"""Every route under /api/v1/workspaces/{workspace_id} keeps tenants apart.

The routes are read from the app's own route table, so a route added later is covered
without anyone editing this test: a member of workspace A who names workspace B's id
gets 404, never B's data or a hint that B exists, whatever the method.
"""

from __future__ import annotations

import re

import httpx
from litestar import Litestar

from entrypoints.containers import ApplicationContainer
from entrypoints.testing.people import person, workspace_of

TENANT_PREFIX = "/api/v1/workspaces/{workspace_id"
PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


def tenant_routes(app: Litestar) -> list[tuple[str, str]]:
    routes = []
    for route in app.routes:
        if not route.path.startswith(TENANT_PREFIX):
            continue
        for method in sorted(getattr(route, "methods", ())):
            if method not in {"HEAD", "OPTIONS"}:
                routes.append((method, route.path))
    return routes


def fill(path: str, workspace_id: str) -> str:
    return PARAM.sub(lambda m: workspace_id if m.group(1) == "workspace_id" else "x_probe", path)


async def test_the_route_table_has_tenant_routes_to_check(app: Litestar) -> None:
    assert len(tenant_routes(app)) >= 5


async def test_a_foreign_workspace_id_is_404_on_every_tenant_route_and_method(
    app: Litestar, client: httpx.AsyncClient, container: ApplicationContainer
) -> None:
    ada = await person(client, container, "ada")
    bob = await person(client, container, "bob")
    await workspace_of(client, ada, "Ada's")
    bobs = await workspace_of(client, bob, "Bob's")

    leaks = []
    for method, path in tenant_routes(app):
        response = await client.request(method, fill(path, bobs), headers=ada.headers, json={})
        if response.status_code != 404 or bobs in response.text.replace(fill(path, bobs), ""):
            leaks.append((method, path, response.status_code, response.text[:200]))

    assert leaks == []
    still = await client.get(f"/api/v1/workspaces/{bobs}", headers=bob.headers)
    assert still.status_code == 200, "Bob's workspace is untouched"
    assert still.json()["name"] == "Bob's"
