"""Events the identity system publishes (schemas in contracts/events/).

Those that are security-relevant declare ``audit_action``: each is also an entry in the
audit log, written in the transaction that raises it (docs/systems/safety/audit.md)."""

from __future__ import annotations

from core.identity.model import StaffRole, WorkspaceRole
from core.kernel import DomainEvent
from core.kernel.events import AwareDatetime


class UserRegistered(DomainEvent, frozen=True, kw_only=True):
    """A person created an account (or staff were created by the CLI)."""

    name = "identity.user_registered"

    user_id: str
    email: str


class WorkspaceCreated(DomainEvent, frozen=True, kw_only=True):
    """A workspace (tenant) was created; its creator is its first owner."""

    name = "identity.workspace_created"
    audit_action = "workspace.created"
    audit_target = ("workspace", "workspace_id")

    workspace_id: str  # required here, optional on the base
    owner_id: str


class MemberAdded(DomainEvent, frozen=True, kw_only=True):
    """A user joined a workspace with a role (billing counts seats from these)."""

    name = "identity.member_added"
    audit_action = "member.added"
    audit_target = ("user", "user_id")

    workspace_id: str
    user_id: str
    role: WorkspaceRole


class EmailVerified(DomainEvent, frozen=True, kw_only=True):
    """A user proved they own their email address."""

    name = "identity.email_verified"

    user_id: str


class PasswordReset(DomainEvent, frozen=True, kw_only=True):
    """A user set a new password through a reset link; their sessions were ended."""

    name = "identity.password_reset"
    audit_action = "user.password_reset"
    audit_target = ("user", "user_id")

    user_id: str


class MemberRemoved(DomainEvent, frozen=True, kw_only=True):
    """A user left or was removed from a workspace (billing counts seats from these)."""

    name = "identity.member_removed"
    audit_action = "member.removed"
    audit_target = ("user", "user_id")

    workspace_id: str
    user_id: str


class MemberRoleChanged(DomainEvent, frozen=True, kw_only=True):
    """A member's role in a workspace changed."""

    name = "identity.member_role_changed"
    audit_action = "member.role_changed"
    audit_target = ("user", "user_id")

    workspace_id: str
    user_id: str
    role: WorkspaceRole


class WorkspaceDeletionScheduled(DomainEvent, frozen=True, kw_only=True):
    """An owner deleted a workspace; its data is purged after the grace period."""

    name = "identity.workspace_deletion_scheduled"
    audit_action = "workspace.deletion_scheduled"
    audit_target = ("workspace", "workspace_id")

    workspace_id: str
    purge_after: AwareDatetime


class UserBanned(DomainEvent, frozen=True, kw_only=True):
    """Staff banned a user: their sessions were ended and sign-in is refused."""

    name = "identity.user_banned"
    audit_action = "user.banned"
    audit_target = ("user", "user_id")

    user_id: str
    banned_by: str
    reason: str


class UserUnbanned(DomainEvent, frozen=True, kw_only=True):
    """Staff lifted a user's ban: they may sign in again."""

    name = "identity.user_unbanned"
    audit_action = "user.unbanned"
    audit_target = ("user", "user_id")

    user_id: str
    unbanned_by: str


class WorkspacePurged(DomainEvent, frozen=True, kw_only=True):
    """A deleted workspace's grace period passed and identity deleted it. Every system
    that keeps data of the workspace deletes it on this event."""

    name = "identity.workspace_purged"
    audit_action = "workspace.purged"
    audit_target = ("workspace", "workspace_id")

    workspace_id: str


class StaffRoleChanged(DomainEvent, frozen=True, kw_only=True):
    """A user was given a staff role, had it changed, or lost it (``role`` None). Not
    published to other systems' webhooks: an audit log entry."""

    name = "identity.staff_role_changed"
    audit_action = "staff.role_changed"
    audit_target = ("user", "user_id")

    user_id: str
    from_role: StaffRole | None
    role: StaffRole | None
