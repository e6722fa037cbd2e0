"""Events the identity system publishes (schemas in contracts/events/)."""

from __future__ import annotations

from core.kernel import DomainEvent


class UserRegistered(DomainEvent, frozen=True, kw_only=True):
    name = "identity.user_registered"

    user_id: str
    email: str


class WorkspaceCreated(DomainEvent, frozen=True, kw_only=True):
    name = "identity.workspace_created"

    workspace_id: str  # required here, optional on the base
    owner_id: str


class MemberAdded(DomainEvent, frozen=True, kw_only=True):
    name = "identity.member_added"

    workspace_id: str
    user_id: str
    role: str
