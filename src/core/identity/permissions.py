"""What each workspace role may do. Routes declare the permission they need, and the use
cases check it again, so a new entrypoint (CLI, job) cannot forget it."""

from __future__ import annotations

import enum

from core.identity.model import WorkspaceRole


class Permission(enum.StrEnum):
    WORKSPACE_READ = "workspace:read"
    WORKSPACE_UPDATE = "workspace:update"
    WORKSPACE_DELETE = "workspace:delete"
    MEMBERS_READ = "members:read"
    MEMBERS_INVITE = "members:invite"
    MEMBERS_MANAGE = "members:manage"
    TEAMS_MANAGE = "teams:manage"
    BILLING_READ = "billing:read"
    BILLING_MANAGE = "billing:manage"
    API_KEYS_MANAGE = "api_keys:manage"


_READ = {Permission.WORKSPACE_READ, Permission.MEMBERS_READ}

ROLE_PERMISSIONS: dict[WorkspaceRole, frozenset[Permission]] = {
    WorkspaceRole.OWNER: frozenset(Permission),
    WorkspaceRole.ADMIN: frozenset(Permission) - {Permission.WORKSPACE_DELETE},
    WorkspaceRole.MEMBER: frozenset(_READ | {Permission.BILLING_READ}),
    WorkspaceRole.BILLING: frozenset(_READ | {Permission.BILLING_READ, Permission.BILLING_MANAGE}),
    WorkspaceRole.VIEWER: frozenset(_READ),
}


def role_allows(role: WorkspaceRole, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]
