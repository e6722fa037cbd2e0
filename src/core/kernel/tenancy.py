"""The tenant context: which workspace a request or job acts for, and as whom.

Tenant-scoped repositories take a ``TenantContext`` argument and cannot be called
without one; there is no ambient "current tenant" to forget to set.
"""

from __future__ import annotations

import msgspec


class TenantContext(msgspec.Struct, frozen=True):
    """The workspace a piece of work acts for, and the actor doing it (if any)."""

    workspace_id: str
    actor_id: str | None = None

    def __post_init__(self) -> None:
        if not self.workspace_id:
            raise ValueError("a tenant context needs a workspace id")
