"""Who a request acts as, for the audit log: the request context (``core.safety``).

The ASGI layer (``entrypoints.http.context``) starts each request with a fresh context
holding its request id. ``stamp`` adds the client's address and user agent and, once the
request is authenticated, the actor: a user, a staff member (a user with a staff role on
the staff routes), or an API key, and the workspace of a workspace route. It reads what
authentication left on the request (``principal``, ``api_key_principal``,
``workspace_access``, and ``impersonator_id`` during an impersonation), so calling it
again is cheap and never wrong. ``authenticate`` and the tenant guard call it, and the
unit of work's dependency calls it once more just before committing: Litestar may
resolve dependencies in tasks of their own, whose context changes the request's task
never sees.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar.connection import ASGIConnection

from adapters.sql.uow import SqlUnitOfWork
from core.identity import ApiKeyPrincipal, Principal, WorkspaceAccess
from core.safety import (
    ActorType,
    AuditLog,
    AuditRecord,
    RequestContext,
    current_context,
    set_context,
)
from entrypoints.http.client import client_of

logger = logging.getLogger("ninefold.audit")

STAFF_PATHS = "/api/v1/admin"


def stamp(connection: ASGIConnection[Any, Any, Any, Any]) -> RequestContext:
    """Make the request's context current, as complete as authentication allows."""
    context = current_context()
    changes: dict[str, Any] = {}
    if context.ip is None:
        client = client_of(connection)
        changes["ip"] = client["ip"] or None
        changes["user_agent"] = client["user_agent"] or None
    if context.request_id is None:
        changes["request_id"] = connection.scope["state"].get("request_id")
    state = connection.scope["state"]
    principal: Principal | None = state.get("principal")
    key: ApiKeyPrincipal | None = state.get("api_key_principal")
    if principal is not None:
        staff = principal.user.staff_role is not None and connection.scope["path"].startswith(
            STAFF_PATHS
        )
        changes["actor_type"] = ActorType.STAFF if staff else ActorType.USER
        changes["actor_id"] = principal.user.id
    elif key is not None:
        changes["actor_type"] = ActorType.API_KEY
        changes["actor_id"] = key.key.id
    impersonator = state.get("impersonator_id")
    if impersonator:
        changes["impersonator_id"] = impersonator
    access: WorkspaceAccess | None = state.get("workspace_access")
    if access is not None:
        changes["workspace_id"] = access.workspace.id
    if not changes or all(getattr(context, k) == v for k, v in changes.items()):
        return context
    stamped = msgspec.structs.replace(context, **changes)
    set_context(stamped)
    return stamped


async def record(
    connection: ASGIConnection[Any, Any, Any, Any], uow: SqlUnitOfWork, entry: AuditRecord
) -> None:
    """Record ``entry`` with the request's unit of work (written when it commits)."""
    audit: AuditLog = connection.app.state.container.safety.audit(uow=uow)
    await audit.record(entry)


async def record_refusal(
    connection: ASGIConnection[Any, Any, Any, Any], entry: AuditRecord
) -> None:
    """Record ``entry`` in a transaction of its own: for what fails, whose request's
    transaction rolls back (a failed sign-in). Best effort: a failure to record is
    logged, never the request's answer."""
    context = stamp(connection)
    if context.actor_id is None and context.actor_type is ActorType.SYSTEM:
        context = msgspec.structs.replace(context, actor_type=ActorType.USER)
    try:
        async with connection.app.state.container.unit_of_work() as uow:
            audit: AuditLog = connection.app.state.container.safety.audit(uow=uow)
            await audit.record(msgspec.structs.replace(entry, context=context))
            await uow.commit()
    except Exception:
        logger.warning("could not record %s in the audit log", entry.action, exc_info=True)
