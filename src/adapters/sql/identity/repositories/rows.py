"""Rows to domain objects, shared by the identity repositories."""

from __future__ import annotations

from typing import Any

from core.identity import (
    Membership,
    StaffRole,
    User,
    Workspace,
    WorkspaceRole,
)


def user_from_row(row: Any) -> User:
    return User(
        id=row.id,
        email=row.email,
        name=row.name,
        password_hash=row.password_hash,
        created_at=row.created_at,
        staff_role=StaffRole(row.staff_role) if row.staff_role else None,
        email_verified_at=row.email_verified_at,
        banned_at=row.banned_at,
        totp_secret=row.totp_secret,
        totp_enabled_at=row.totp_enabled_at,
        totp_last_step=row.totp_last_step,
    )


def workspace_from_row(row: Any) -> Workspace:
    return Workspace(
        id=row.id,
        name=row.name,
        created_at=row.created_at,
        deleted_at=row.deleted_at,
        purge_after=row.purge_after,
    )


def membership_from_row(row: Any) -> Membership:
    return Membership(
        workspace_id=row.workspace_id,
        user_id=row.user_id,
        role=WorkspaceRole(row.role),
        created_at=row.created_at,
    )
