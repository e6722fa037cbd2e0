"""Routes that exist only in these tests, to drive the HTTP stack end to end."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import msgspec
import pytest
from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from adapters.sql.uow import SqlUnitOfWork
from core.kernel import ConflictError
from entrypoints.containers import ApplicationContainer
from entrypoints.http.app import create_app
from entrypoints.testing.plugin import serve_in_process


class NewUser(msgspec.Struct):
    email: str
    password: str


class Created(msgspec.Struct):
    id: str


def probe_routes(container: ApplicationContainer) -> list[object]:
    @post("/probe/users")
    async def create_user(data: JSONBody[NewUser], uow: NamedDependency[SqlUnitOfWork]) -> Created:
        user = await container.identity.service(uow=uow).register_user(
            data.email, "", data.password
        )
        return Created(user.id)

    @post("/probe/users-then-conflict")
    async def create_then_fail(
        data: JSONBody[NewUser], uow: NamedDependency[SqlUnitOfWork]
    ) -> Created:
        await container.identity.service(uow=uow).register_user(data.email, "", data.password)
        raise ConflictError("changed my mind", hint="retry later")

    @get("/probe/crash")
    async def crash() -> None:
        raise RuntimeError("secret internals")

    return [create_user, create_then_fail, crash]


@pytest.fixture
async def probe_client(container: ApplicationContainer) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(container, extra_route_handlers=probe_routes(container), run_worker=False)  # type: ignore[arg-type]
    async with serve_in_process(app) as client:
        yield client
