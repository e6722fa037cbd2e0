"""What each workspace role may do. Routes declare the permission they need, and the use
cases check it again, so a new entrypoint (CLI, job) cannot forget it.

Reading the workspace's audit log (``audit:read``) is the owners' alone: the log records
what admins do too."""

from __future__ import annotations

from core.identity.model import Permission, WorkspaceRole

__all__ = ["ROLE_PERMISSIONS", "Permission", "role_allows"]


_READ = {Permission.WORKSPACE_READ, Permission.MEMBERS_READ}

ROLE_PERMISSIONS: dict[WorkspaceRole, frozenset[Permission]] = {
    WorkspaceRole.OWNER: frozenset(Permission),
    WorkspaceRole.ADMIN: frozenset(Permission)
    - {Permission.WORKSPACE_DELETE, Permission.AUDIT_READ},
    WorkspaceRole.MEMBER: frozenset(_READ | {Permission.BILLING_READ}),
    WorkspaceRole.BILLING: frozenset(_READ | {Permission.BILLING_READ, Permission.BILLING_MANAGE}),
    WorkspaceRole.VIEWER: frozenset(_READ),
}


def role_allows(role: WorkspaceRole, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]
