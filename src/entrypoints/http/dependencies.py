"""Request-scoped dependencies: Litestar owns request scope, the container the graph."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from litestar import Request
from litestar.datastructures import State

from adapters.sql.uow import SqlUnitOfWork
from entrypoints.containers import ApplicationContainer
from entrypoints.http.safety.acting import stamp


def container_of(state: State) -> ApplicationContainer:
    container: ApplicationContainer = state.container
    return container


async def provide_uow(
    state: State, request: Request[Any, Any, Any]
) -> AsyncGenerator[SqlUnitOfWork]:
    """One unit of work per request, committed here and nowhere else: after the handler
    returns. An exception from the handler is thrown in here and rolls it back. Its
    audit entries are stamped with who the request acted as (``stamp``)."""
    async with container_of(state).unit_of_work() as uow:
        yield uow
        stamp(request)
        await uow.commit()
