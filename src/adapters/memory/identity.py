"""In-memory fakes of the identity system's ports."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime

import msgspec

from core.identity import (
    ApiKey,
    AuthSession,
    EmailTakenError,
    EmailToken,
    Invitation,
    Membership,
    RecoveryCode,
    StaffRole,
    Team,
    TeamNameTakenError,
    TokenPurpose,
    User,
    Workspace,
    WorkspaceRole,
)
from core.kernel import TenantContext


class InMemoryUserRepository:
    def __init__(self) -> None:
        self.users: dict[str, User] = {}

    async def add(self, user: User) -> None:
        if any(existing.email == user.email for existing in self.users.values()):
            raise EmailTakenError()
        self.users[user.id] = user

    async def get(self, user_id: str) -> User | None:
        return self.users.get(user_id)

    async def get_by_email(self, email: str) -> User | None:
        return next((u for u in self.users.values() if u.email == email), None)

    async def count(self) -> int:
        return len(self.users)

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        if user_id in self.users:
            self.users[user_id].password_hash = password_hash

    async def mark_email_verified(self, user_id: str, at: datetime) -> None:
        user = self.users.get(user_id)
        if user is not None and user.email_verified_at is None:
            user.email_verified_at = at

    async def rename(self, user_id: str, name: str) -> None:
        if user_id in self.users:
            self.users[user_id].name = name

    async def set_totp(
        self,
        user_id: str,
        secret: str | None,
        enabled_at: datetime | None = None,
        last_step: int | None = None,
    ) -> None:
        user = self.users.get(user_id)
        if user is not None:
            user.totp_secret, user.totp_enabled_at = secret, enabled_at
            user.totp_last_step = last_step

    async def use_totp_step(self, user_id: str, step: int) -> bool:
        user = self.users.get(user_id)
        if user is None or (user.totp_last_step is not None and step <= user.totp_last_step):
            return False
        user.totp_last_step = step
        return True

    async def search(
        self,
        email_prefix: str = "",
        *,
        after: str | None = None,
        limit: int | None = 50,
        staff_only: bool = False,
    ) -> Sequence[User]:
        found = sorted(
            (
                u
                for u in self.users.values()
                if u.email.startswith(email_prefix)
                and (after is None or u.id > after)
                and (not staff_only or u.staff_role is not None)
            ),
            key=lambda u: u.id,
        )
        return found if limit is None else found[:limit]

    async def set_banned(self, user_id: str, at: datetime | None) -> None:
        if user_id in self.users:
            self.users[user_id].banned_at = at

    async def set_staff_role(self, user_id: str, role: StaffRole | None) -> None:
        if user_id in self.users:
            self.users[user_id].staff_role = role


class InMemoryWorkspaceRepository:
    def __init__(self) -> None:
        self.workspaces: dict[str, Workspace] = {}
        self.memberships: list[Membership] = []

    async def add(self, workspace: Workspace) -> None:
        self.workspaces[workspace.id] = workspace

    async def get(self, tenant: TenantContext) -> Workspace | None:
        workspace = self.workspaces.get(tenant.workspace_id)
        return workspace if workspace and workspace.deleted_at is None else None

    async def list_for_user(self, user_id: str) -> Sequence[tuple[Workspace, Membership]]:
        found = [
            (self.workspaces[m.workspace_id], m)
            for m in self.memberships
            if m.user_id == user_id and self.workspaces[m.workspace_id].deleted_at is None
        ]
        return sorted(found, key=lambda pair: (pair[0].created_at, pair[0].id))

    async def membership(self, tenant: TenantContext, user_id: str) -> Membership | None:
        return next(
            (
                m
                for m in self.memberships
                if m.workspace_id == tenant.workspace_id and m.user_id == user_id
            ),
            None,
        )

    async def rename(self, tenant: TenantContext, name: str) -> None:
        self.workspaces[tenant.workspace_id].name = name

    async def schedule_deletion(
        self, tenant: TenantContext, at: datetime, purge_after: datetime
    ) -> None:
        workspace = self.workspaces[tenant.workspace_id]
        workspace.deleted_at, workspace.purge_after = at, purge_after

    async def set_role(self, tenant: TenantContext, user_id: str, role: WorkspaceRole) -> None:
        membership = await self.membership(tenant, user_id)
        if membership is not None:
            membership.role = role

    async def remove_member(self, tenant: TenantContext, user_id: str) -> None:
        self.memberships = [
            m
            for m in self.memberships
            if not (m.workspace_id == tenant.workspace_id and m.user_id == user_id)
        ]

    async def purge_due(self, now: datetime, limit: int) -> Sequence[str]:
        due = sorted(
            (w for w in self.workspaces.values() if w.purge_after and w.purge_after <= now),
            key=lambda w: (w.purge_after or now, w.id),
        )[:limit]
        for workspace in due:
            del self.workspaces[workspace.id]
            self.memberships = [m for m in self.memberships if m.workspace_id != workspace.id]
        return [w.id for w in due]

    async def count_owners(self, tenant: TenantContext) -> int:
        return sum(
            1
            for m in self.memberships
            if m.workspace_id == tenant.workspace_id and m.role == WorkspaceRole.OWNER
        )

    async def add_member(self, tenant: TenantContext, membership: Membership) -> None:
        if membership.workspace_id != tenant.workspace_id:
            raise ValueError("a membership can only be added to the tenant's own workspace")
        self.memberships.append(membership)

    async def members(self, tenant: TenantContext) -> Sequence[Membership]:
        return [m for m in self.memberships if m.workspace_id == tenant.workspace_id]

    async def memberships_of(self, user_id: str) -> Sequence[Membership]:
        return [m for m in self.memberships if m.user_id == user_id]


class FastInsecurePasswordHasher:
    """Unsalted SHA-256: microseconds instead of argon2's tens of milliseconds, for tests
    only. Production settings refuse it."""

    def hash(self, password: str) -> str:
        return "sha256$" + hashlib.sha256(password.encode()).hexdigest()

    def verify(self, password_hash: str, password: str) -> bool:
        return hmac.compare_digest(password_hash, self.hash(password))


class InMemorySessionRepository:
    def __init__(self, users: InMemoryUserRepository) -> None:
        self._users = users
        self.sessions: dict[str, AuthSession] = {}

    async def add(self, session: AuthSession) -> None:
        self.sessions[session.id] = session

    async def find_active(self, token_hash: str, now: datetime) -> tuple[AuthSession, User] | None:
        for session in self.sessions.values():
            if session.token_hash == token_hash and session.is_active(now):
                user = self._users.users.get(session.user_id)
                return (session, user) if user else None
        return None

    async def get(self, user_id: str, session_id: str) -> AuthSession | None:
        session = self.sessions.get(session_id)
        return session if session and session.user_id == user_id else None

    async def list_active(self, user_id: str, now: datetime) -> Sequence[AuthSession]:
        mine = [s for s in self.sessions.values() if s.user_id == user_id and s.is_active(now)]
        return sorted(mine, key=lambda s: (s.last_seen_at, s.id), reverse=True)

    async def touch(
        self, session_id: str, last_seen_at: datetime, idle_expires_at: datetime
    ) -> None:
        session = self.sessions[session_id]
        session.last_seen_at, session.idle_expires_at = last_seen_at, idle_expires_at

    async def revoke(self, session_id: str, at: datetime) -> None:
        session = self.sessions.get(session_id)
        if session is not None and session.revoked_at is None:
            session.revoked_at = at

    async def revoke_all(self, user_id: str, at: datetime, keep: str | None = None) -> int:
        ended = [
            s
            for s in self.sessions.values()
            if s.user_id == user_id and s.id != keep and s.is_active(at)
        ]
        for session in ended:
            session.revoked_at = at
        return len(ended)


class InMemoryEmailTokenRepository:
    def __init__(self) -> None:
        self.tokens: dict[str, EmailToken] = {}

    async def add(self, token: EmailToken) -> None:
        self.tokens[token.id] = token

    async def find_usable(
        self, token_hash: str, purpose: TokenPurpose, now: datetime
    ) -> EmailToken | None:
        return next(
            (
                t
                for t in self.tokens.values()
                if t.token_hash == token_hash and t.purpose == purpose and t.is_usable(now)
            ),
            None,
        )

    async def use(self, token_id: str, at: datetime) -> bool:
        token = self.tokens.get(token_id)
        if token is None or token.used_at is not None:
            return False
        token.used_at = at
        return True

    async def revoke_all(self, user_id: str, purpose: TokenPurpose, at: datetime) -> None:
        for token in self.tokens.values():
            if token.user_id == user_id and token.purpose == purpose and token.used_at is None:
                token.used_at = at


class InMemoryRecoveryCodeRepository:
    def __init__(self) -> None:
        self.codes: dict[str, RecoveryCode] = {}

    async def replace_all(self, user_id: str, codes: Sequence[RecoveryCode]) -> None:
        await self.delete_all(user_id)
        for code in codes:
            self.codes[code.id] = code

    async def use(self, user_id: str, code_hash: str, at: datetime) -> bool:
        for code in self.codes.values():
            if code.user_id == user_id and code.code_hash == code_hash and code.used_at is None:
                code.used_at = at
                return True
        return False

    async def count_unused(self, user_id: str) -> int:
        return sum(1 for c in self.codes.values() if c.user_id == user_id and c.used_at is None)

    async def delete_all(self, user_id: str) -> None:
        self.codes = {k: c for k, c in self.codes.items() if c.user_id != user_id}


class InMemoryInvitationRepository:
    def __init__(self) -> None:
        self.invitations: dict[str, Invitation] = {}

    def _open(self, tenant: TenantContext) -> list[Invitation]:
        return [
            i
            for i in self.invitations.values()
            if i.workspace_id == tenant.workspace_id
            and i.accepted_at is None
            and i.revoked_at is None
        ]

    async def add(self, invitation: Invitation) -> None:
        self.invitations[invitation.id] = invitation

    async def get(self, tenant: TenantContext, invitation_id: str) -> Invitation | None:
        found = self.invitations.get(invitation_id)
        return found if found and found.workspace_id == tenant.workspace_id else None

    async def pending(self, tenant: TenantContext, now: datetime) -> Sequence[Invitation]:
        found = [i for i in self._open(tenant) if now < i.expires_at]
        return sorted(found, key=lambda i: (i.created_at, i.id))

    async def find_by_token_hash(self, token_hash: str) -> Invitation | None:
        return next((i for i in self.invitations.values() if i.token_hash == token_hash), None)

    async def revoke(self, tenant: TenantContext, invitation_id: str, at: datetime) -> bool:
        for invitation in self._open(tenant):
            if invitation.id == invitation_id and at < invitation.expires_at:
                invitation.revoked_at = at
                return True
        return False

    async def revoke_for_email(self, tenant: TenantContext, email: str, at: datetime) -> None:
        for invitation in self._open(tenant):
            if invitation.email == email:
                invitation.revoked_at = at

    async def accept(self, tenant: TenantContext, invitation_id: str, at: datetime) -> bool:
        for invitation in self._open(tenant):
            if invitation.id == invitation_id and at < invitation.expires_at:
                invitation.accepted_at = at
                return True
        return False


class InMemoryTeamRepository:
    def __init__(self) -> None:
        self.teams: dict[str, Team] = {}
        self.members: set[tuple[str, str]] = set()  # (team id, user id)

    def _read(self, team: Team) -> Team:
        ids = sorted(user for team_id, user in self.members if team_id == team.id)
        return Team(
            id=team.id,
            workspace_id=team.workspace_id,
            name=team.name,
            created_at=team.created_at,
            member_ids=ids,
        )

    def _taken(self, tenant: TenantContext, name: str, other_than: str = "") -> bool:
        return any(
            t.workspace_id == tenant.workspace_id and t.name == name and t.id != other_than
            for t in self.teams.values()
        )

    async def add(self, tenant: TenantContext, team: Team) -> None:
        if team.workspace_id != tenant.workspace_id:
            raise ValueError("a team can only be added to the tenant's own workspace")
        if self._taken(tenant, team.name):
            raise TeamNameTakenError(field="name")
        self.teams[team.id] = Team(
            id=team.id, workspace_id=team.workspace_id, name=team.name, created_at=team.created_at
        )
        self.members |= {(team.id, user_id) for user_id in team.member_ids}

    async def get(self, tenant: TenantContext, team_id: str) -> Team | None:
        team = self.teams.get(team_id)
        return self._read(team) if team and team.workspace_id == tenant.workspace_id else None

    async def list_teams(self, tenant: TenantContext) -> Sequence[Team]:
        mine = [self._read(t) for t in self.teams.values() if t.workspace_id == tenant.workspace_id]
        return sorted(mine, key=lambda t: (t.name, t.id))

    async def rename(self, tenant: TenantContext, team_id: str, name: str) -> None:
        if await self.get(tenant, team_id) is None:
            return
        if self._taken(tenant, name, other_than=team_id):
            raise TeamNameTakenError(field="name")
        self.teams[team_id].name = name

    async def delete(self, tenant: TenantContext, team_id: str) -> None:
        if await self.get(tenant, team_id) is not None:
            del self.teams[team_id]
            self.members = {m for m in self.members if m[0] != team_id}

    async def add_member(self, tenant: TenantContext, team_id: str, user_id: str) -> None:
        if await self.get(tenant, team_id) is None:
            raise ValueError("a member can only be added to one of the tenant's teams")
        self.members.add((team_id, user_id))

    async def remove_member(self, tenant: TenantContext, team_id: str, user_id: str) -> None:
        if await self.get(tenant, team_id) is not None:
            self.members.discard((team_id, user_id))

    async def remove_from_all(self, tenant: TenantContext, user_id: str) -> None:
        mine = {t.id for t in self.teams.values() if t.workspace_id == tenant.workspace_id}
        self.members = {m for m in self.members if not (m[0] in mine and m[1] == user_id)}


class InMemoryApiKeyRepository:
    def __init__(self) -> None:
        self.keys: dict[str, ApiKey] = {}
        self.touches = 0

    def _copy(self, key: ApiKey) -> ApiKey:
        return msgspec.structs.replace(key)

    async def add(self, key: ApiKey) -> None:
        self.keys[key.id] = self._copy(key)

    async def get(self, tenant: TenantContext, key_id: str) -> ApiKey | None:
        key = self.keys.get(key_id)
        return self._copy(key) if key and key.workspace_id == tenant.workspace_id else None

    async def list_keys(self, tenant: TenantContext) -> Sequence[ApiKey]:
        mine = [self._copy(k) for k in self.keys.values() if k.workspace_id == tenant.workspace_id]
        return sorted(mine, key=lambda k: (k.created_at, k.id))

    async def find_by_secret_hash(self, secret_hash: str) -> ApiKey | None:
        key = next((k for k in self.keys.values() if k.secret_hash == secret_hash), None)
        return self._copy(key) if key else None

    async def revoke(self, tenant: TenantContext, key_id: str, at: datetime) -> bool:
        key = self.keys.get(key_id)
        if key is None or key.workspace_id != tenant.workspace_id or key.revoked_at is not None:
            return False
        key.revoked_at = at
        return True

    async def touch(self, key_id: str, at: datetime) -> None:
        if key_id in self.keys:
            self.keys[key_id].last_used_at = at
            self.touches += 1
