"""Request-scoped dependencies: Litestar owns request scope, the container the graph."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from litestar.datastructures import State

from adapters.sql.uow import SqlUnitOfWork
from entrypoints.containers import ApplicationContainer


def container_of(state: State) -> ApplicationContainer:
    container: ApplicationContainer = state.container
    return container


async def provide_uow(state: State) -> AsyncGenerator[SqlUnitOfWork]:
    """One unit of work per request, committed here and nowhere else: after the handler
    returns. An exception from the handler is thrown in here and rolls it back."""
    async with container_of(state).unit_of_work() as uow:
        yield uow
        await uow.commit()
