"""Who is acting, from where: the request context audit entries are stamped with.

The HTTP layer sets it for each request (request id, client address, user agent, then
the actor once authenticated, and the impersonating staff member during an
impersonation); jobs and the CLI set their own (actor type ``system``, or the operator).
Code that records an audit entry reads it instead of passing it down every call.
"""

from __future__ import annotations

import enum
from contextvars import ContextVar

import msgspec


class ActorType(enum.StrEnum):
    USER = "user"
    STAFF = "staff"
    API_KEY = "api_key"
    SYSTEM = "system"


class RequestContext(msgspec.Struct, frozen=True, kw_only=True):
    actor_type: ActorType = ActorType.SYSTEM
    actor_id: str | None = None
    impersonator_id: str | None = None  # the staff member acting as ``actor_id``
    workspace_id: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None


SYSTEM = RequestContext()
_current: ContextVar[RequestContext] = ContextVar("ninefold_request_context", default=SYSTEM)


def current_context() -> RequestContext:
    return _current.get()


def set_context(context: RequestContext) -> None:
    """Set the context of the running task (and the tasks it starts from now on)."""
    _current.set(context)


def update_context(**changes: object) -> RequestContext:
    """The current context with ``changes``, made current."""
    updated = msgspec.structs.replace(_current.get(), **changes)
    _current.set(updated)
    return updated
