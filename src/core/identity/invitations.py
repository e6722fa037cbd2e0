"""Invitations to a workspace, by email and with a role.

An invitation is a single-use, expiring (7 days), revocable secret link. Accepting it
needs the person it was sent to: either signed in with the invited email, or, when no
account has that email yet, creating one with the link (which proves the mailbox, so the
new account's email is verified). Inviting the same email again replaces the pending
invitation; only owners invite owners.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from core.identity.errors import (
    AlreadyMemberError,
    InvalidTokenError,
    InvitationEmailMismatchError,
    InvitationNotFoundError,
    UnauthenticatedError,
)
from core.identity.events import EmailVerified, MemberAdded, UserRegistered
from core.identity.model import (
    INVITATION_LIFETIME,
    Invitation,
    Membership,
    Principal,
    User,
    Workspace,
    WorkspaceRole,
    normalize_email,
)
from core.identity.permissions import Permission
from core.identity.ports import (
    InvitationRepository,
    PasswordHasher,
    PasswordPolicy,
    UserRepository,
    WorkspaceRepository,
)
from core.identity.service import check_new_password
from core.identity.throttling import IdentityThrottle
from core.identity.tokens import hash_token, new_token
from core.identity.workspaces import WorkspaceAccess
from core.kernel import Clock, IdGenerator, PermissionDeniedError, TenantContext, UnitOfWork
from core.notifications import NotificationRequest, Notifier, Recipient

INVITATION_TOKEN_PREFIX = "nf_inv"


class InvitationService:
    def __init__(
        self,
        *,
        uow: UnitOfWork,
        invitations: InvitationRepository,
        workspaces: WorkspaceRepository,
        users: UserRepository,
        hasher: PasswordHasher,
        policy: PasswordPolicy,
        notifier: Notifier,
        clock: Clock,
        ids: IdGenerator,
        public_url: str,
        throttle: IdentityThrottle,
    ) -> None:
        self._uow = uow
        self._invitations = invitations
        self._workspaces = workspaces
        self._users = users
        self._hasher = hasher
        self._policy = policy
        self._notifier = notifier
        self._clock = clock
        self._ids = ids
        self._public_url = public_url.rstrip("/")
        self._throttle = throttle

    async def invite(
        self, access: WorkspaceAccess, email: str, role: WorkspaceRole, *, inviter_name: str = ""
    ) -> Invitation:
        """Email an invitation link; a pending invitation to the same email is replaced."""
        access.require(Permission.MEMBERS_INVITE)
        if role == WorkspaceRole.OWNER and access.membership.role != WorkspaceRole.OWNER:
            raise PermissionDeniedError("only an owner can invite an owner")
        normalized = normalize_email(email)
        existing = await self._users.get_by_email(normalized)
        if existing is not None and await self._workspaces.membership(access.tenant, existing.id):
            raise AlreadyMemberError(field="email")
        now = self._clock.now()
        await self._invitations.revoke_for_email(access.tenant, normalized, now)
        token = new_token(INVITATION_TOKEN_PREFIX)
        invitation = Invitation(
            id=self._ids.new("inv", now),
            workspace_id=access.workspace.id,
            email=normalized,
            role=role,
            token_hash=hash_token(token),
            invited_by=access.membership.user_id,
            created_at=now,
            expires_at=now + INVITATION_LIFETIME,
        )
        await self._invitations.add(invitation)
        await self._notifier.notify(
            self._invitation_request(invitation, access.workspace, token, inviter_name)
        )
        return invitation

    async def pending(self, access: WorkspaceAccess) -> Sequence[Invitation]:
        access.require(Permission.MEMBERS_INVITE)
        return await self._invitations.pending(access.tenant, self._clock.now())

    async def revoke(self, access: WorkspaceAccess, invitation_id: str) -> None:
        access.require(Permission.MEMBERS_INVITE)
        if not await self._invitations.revoke(access.tenant, invitation_id, self._clock.now()):
            raise InvitationNotFoundError()

    async def accept(
        self, token: str, principal: Principal, *, ip: str = ""
    ) -> tuple[Workspace, Membership]:
        """The signed-in user joins the workspace with the invited role. The invitation
        must be theirs (same email); following its link proves that email, too."""
        invitation, workspace = await self._open(token, ip)
        user = principal.user
        if user.email != invitation.email:
            raise InvitationEmailMismatchError(
                "sign in with the email address the invitation was sent to"
            )
        tenant = TenantContext(workspace.id, actor_id=user.id)
        current = await self._workspaces.membership(tenant, user.id)
        await self._use(tenant, invitation)
        now = self._clock.now()
        if user.email_verified_at is None:
            await self._users.mark_email_verified(user.id, now)
            user.email_verified_at = now
            self._uow.raise_event(EmailVerified(occurred_at=now, user_id=user.id))
        if current is not None:  # joined meanwhile: the invitation is used up all the same
            return workspace, current
        return workspace, await self._join(tenant, user, invitation)

    async def sign_up_and_accept(
        self, token: str, password: str, name: str = "", *, ip: str = ""
    ) -> tuple[User, Workspace, Membership]:
        """Create the invited person's account (email verified: the link proves it) and
        join. When an account has the invited email, its owner must sign in instead."""
        invitation, workspace = await self._open(token, ip)
        if await self._users.get_by_email(invitation.email) is not None:
            raise UnauthenticatedError(
                "an account with the invited email exists: sign in, then accept the invitation",
                headers={"WWW-Authenticate": 'Bearer realm="ninefold"'},
            )
        email = invitation.email
        check_new_password(self._policy, password, email, name)
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        now = self._clock.now()
        user = User(
            id=self._ids.new("usr", now),
            email=email,
            name=name.strip()[:200] or email.split("@")[0],
            password_hash=password_hash,
            created_at=now,
            email_verified_at=now,
        )
        await self._users.add(user)  # EmailTakenError (409) if a concurrent sign-up won
        self._uow.raise_event(UserRegistered(occurred_at=now, user_id=user.id, email=email))
        self._uow.raise_event(EmailVerified(occurred_at=now, user_id=user.id))
        tenant = TenantContext(workspace.id, actor_id=user.id)
        await self._use(tenant, invitation)
        return user, workspace, await self._join(tenant, user, invitation)

    async def _open(self, token: str, ip: str) -> tuple[Invitation, Workspace]:
        """The pending invitation of a token and its live workspace, or invalid-token."""
        await self._throttle.token_attempt(ip)
        invitation = await self._invitations.find_by_token_hash(hash_token(token))
        if invitation is None or not invitation.is_pending(self._clock.now()):
            raise InvalidTokenError()
        workspace = await self._workspaces.get(TenantContext(invitation.workspace_id))
        if workspace is None:
            raise InvalidTokenError()
        return invitation, workspace

    async def _use(self, tenant: TenantContext, invitation: Invitation) -> None:
        if not await self._invitations.accept(tenant, invitation.id, self._clock.now()):
            raise InvalidTokenError()  # a concurrent accept or revoke won

    async def _join(self, tenant: TenantContext, user: User, invitation: Invitation) -> Membership:
        now = self._clock.now()
        membership = Membership(
            workspace_id=invitation.workspace_id,
            user_id=user.id,
            role=invitation.role,
            created_at=now,
        )
        await self._workspaces.add_member(tenant, membership)
        self._uow.raise_event(
            MemberAdded(
                occurred_at=now,
                workspace_id=invitation.workspace_id,
                user_id=user.id,
                role=invitation.role,
            )
        )
        return membership

    def _invitation_request(
        self, invitation: Invitation, workspace: Workspace, token: str, inviter_name: str
    ) -> NotificationRequest:
        # To the invited address only: in-app would need an account, and the invitation
        # is addressed to an email, whoever holds it.
        return NotificationRequest(
            type="workspace.invitation",
            recipient=Recipient(email=invitation.email),
            data={
                "inviter_name": inviter_name,
                "workspace_name": workspace.name,
                "role": invitation.role.value,
                "link": f"{self._public_url}/invitations/{token}",
                "days": INVITATION_LIFETIME.days,
            },
            idempotency_key=invitation.id,
        )
