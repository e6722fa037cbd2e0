"""SQL repositories of the identity system."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.identity.tables import (
    email_tokens,
    invitations,
    memberships,
    recovery_codes,
    sessions,
    team_members,
    teams,
    users,
    workspaces,
)
from core.identity import (
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


def _user(row: Any) -> User:
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


def _workspace(row: Any) -> Workspace:
    return Workspace(
        id=row.id,
        name=row.name,
        created_at=row.created_at,
        deleted_at=row.deleted_at,
        purge_after=row.purge_after,
    )


def _membership(row: Any) -> Membership:
    return Membership(
        workspace_id=row.workspace_id,
        user_id=row.user_id,
        role=WorkspaceRole(row.role),
        created_at=row.created_at,
    )


class SqlUserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, user: User) -> None:
        values = {
            "id": user.id,
            "email": user.email,
            "name": user.name,
            "password_hash": user.password_hash,
            "staff_role": user.staff_role.value if user.staff_role else None,
            "created_at": user.created_at,
            "email_verified_at": user.email_verified_at,
            "banned_at": user.banned_at,
            "totp_secret": user.totp_secret,
            "totp_enabled_at": user.totp_enabled_at,
            "totp_last_step": user.totp_last_step,
        }
        try:
            async with self._session.begin_nested():
                await self._session.execute(insert(users).values(values))
        except IntegrityError as exc:
            raise EmailTakenError() from exc

    async def get(self, user_id: str) -> User | None:
        row = (await self._session.execute(select(users).where(users.c.id == user_id))).first()
        return _user(row) if row else None

    async def get_by_email(self, email: str) -> User | None:
        query = select(users).where(users.c.email == email)
        row = (await self._session.execute(query)).first()
        return _user(row) if row else None

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        query = update(users).where(users.c.id == user_id).values(password_hash=password_hash)
        await self._session.execute(query)

    async def mark_email_verified(self, user_id: str, at: datetime) -> None:
        await self._session.execute(
            update(users)
            .where(users.c.id == user_id, users.c.email_verified_at.is_(None))
            .values(email_verified_at=at)
        )

    async def rename(self, user_id: str, name: str) -> None:
        await self._session.execute(update(users).where(users.c.id == user_id).values(name=name))

    async def set_totp(
        self,
        user_id: str,
        secret: str | None,
        enabled_at: datetime | None = None,
        last_step: int | None = None,
    ) -> None:
        await self._session.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(totp_secret=secret, totp_enabled_at=enabled_at, totp_last_step=last_step)
        )

    async def use_totp_step(self, user_id: str, step: int) -> bool:
        # One conditional UPDATE: of two concurrent uses of one code, only one matches.
        result = await self._session.execute(
            update(users)
            .where(users.c.id == user_id)
            .where(users.c.totp_last_step.is_(None) | (users.c.totp_last_step < step))
            .values(totp_last_step=step)
        )
        return bool(getattr(result, "rowcount", 0))

    async def search(
        self,
        email_prefix: str = "",
        *,
        after: str | None = None,
        limit: int | None = 50,
        staff_only: bool = False,
    ) -> Sequence[User]:
        query = select(users).order_by(users.c.id)
        if email_prefix:
            query = query.where(users.c.email.startswith(email_prefix, autoescape=True))
        if after is not None:
            query = query.where(users.c.id > after)
        if staff_only:
            query = query.where(users.c.staff_role.is_not(None))
        if limit is not None:
            query = query.limit(limit)
        return [_user(row) for row in await self._session.execute(query)]

    async def set_banned(self, user_id: str, at: datetime | None) -> None:
        await self._session.execute(update(users).where(users.c.id == user_id).values(banned_at=at))

    async def set_staff_role(self, user_id: str, role: StaffRole | None) -> None:
        await self._session.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(staff_role=role.value if role is not None else None)
        )

    async def count(self) -> int:
        return int(
            (await self._session.execute(select(func.count()).select_from(users))).scalar_one()
        )


class SqlWorkspaceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, workspace: Workspace) -> None:
        await self._session.execute(
            insert(workspaces).values(
                id=workspace.id, name=workspace.name, created_at=workspace.created_at
            )
        )

    async def get(self, tenant: TenantContext) -> Workspace | None:
        query = select(workspaces).where(
            workspaces.c.id == tenant.workspace_id, workspaces.c.deleted_at.is_(None)
        )
        row = (await self._session.execute(query)).first()
        return _workspace(row) if row else None

    async def add_member(self, tenant: TenantContext, membership: Membership) -> None:
        if membership.workspace_id != tenant.workspace_id:
            raise ValueError("a membership can only be added to the tenant's own workspace")
        await self._session.execute(
            insert(memberships).values(
                workspace_id=membership.workspace_id,
                user_id=membership.user_id,
                role=membership.role.value,
                created_at=membership.created_at,
            )
        )

    async def members(self, tenant: TenantContext) -> Sequence[Membership]:
        query = (
            select(memberships)
            .where(memberships.c.workspace_id == tenant.workspace_id)
            .order_by(memberships.c.created_at, memberships.c.user_id)
        )
        return [_membership(row) for row in await self._session.execute(query)]

    async def list_for_user(self, user_id: str) -> Sequence[tuple[Workspace, Membership]]:
        query = (
            select(
                *workspaces.c,
                memberships.c.role,
                memberships.c.user_id,
                memberships.c.created_at.label("joined_at"),
            )
            .join(memberships, memberships.c.workspace_id == workspaces.c.id)
            .where(memberships.c.user_id == user_id, workspaces.c.deleted_at.is_(None))
            .order_by(workspaces.c.created_at, workspaces.c.id)
        )
        return [
            (
                _workspace(row),
                Membership(
                    workspace_id=row.id,
                    user_id=row.user_id,
                    role=WorkspaceRole(row.role),
                    created_at=row.joined_at,
                ),
            )
            for row in await self._session.execute(query)
        ]

    async def membership(self, tenant: TenantContext, user_id: str) -> Membership | None:
        query = select(memberships).where(
            memberships.c.workspace_id == tenant.workspace_id, memberships.c.user_id == user_id
        )
        row = (await self._session.execute(query)).first()
        return _membership(row) if row else None

    async def rename(self, tenant: TenantContext, name: str) -> None:
        await self._session.execute(
            update(workspaces).where(workspaces.c.id == tenant.workspace_id).values(name=name)
        )

    async def schedule_deletion(
        self, tenant: TenantContext, at: datetime, purge_after: datetime
    ) -> None:
        await self._session.execute(
            update(workspaces)
            .where(workspaces.c.id == tenant.workspace_id)
            .values(deleted_at=at, purge_after=purge_after)
        )

    async def set_role(self, tenant: TenantContext, user_id: str, role: WorkspaceRole) -> None:
        await self._session.execute(
            update(memberships)
            .where(
                memberships.c.workspace_id == tenant.workspace_id,
                memberships.c.user_id == user_id,
            )
            .values(role=role.value)
        )

    async def remove_member(self, tenant: TenantContext, user_id: str) -> None:
        await self._session.execute(
            delete(memberships).where(
                memberships.c.workspace_id == tenant.workspace_id,
                memberships.c.user_id == user_id,
            )
        )

    async def purge_due(self, now: datetime, limit: int) -> Sequence[str]:
        due = (
            select(workspaces.c.id)
            .where(workspaces.c.purge_after.is_not(None), workspaces.c.purge_after <= now)
            .order_by(workspaces.c.purge_after, workspaces.c.id)
            .limit(limit)
        )
        ids = list((await self._session.execute(due)).scalars())
        if ids:
            # Rows that point at a workspace go with it (ON DELETE CASCADE).
            await self._session.execute(delete(workspaces).where(workspaces.c.id.in_(ids)))
        return ids

    async def count_owners(self, tenant: TenantContext) -> int:
        query = (
            select(func.count())
            .select_from(memberships)
            .where(
                memberships.c.workspace_id == tenant.workspace_id,
                memberships.c.role == WorkspaceRole.OWNER.value,
            )
        )
        return int((await self._session.execute(query)).scalar_one())

    async def memberships_of(self, user_id: str) -> Sequence[Membership]:
        query = (
            select(memberships)
            .where(memberships.c.user_id == user_id)
            .order_by(memberships.c.created_at, memberships.c.workspace_id)
        )
        return [_membership(row) for row in await self._session.execute(query)]


_SESSION_COLUMNS = list(sessions.c)
_USER_COLUMNS = [c.label(f"usr__{c.name}") for c in users.c]


def _session(row: Any) -> AuthSession:
    return AuthSession(
        id=row.id,
        user_id=row.user_id,
        token_hash=row.token_hash,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        expires_at=row.expires_at,
        idle_expires_at=row.idle_expires_at,
        user_agent=row.user_agent,
        ip=row.ip,
        revoked_at=row.revoked_at,
    )


class _Prefixed:
    """A row's ``usr__*`` columns (the joined user) seen without the prefix."""

    def __init__(self, row: Any) -> None:
        self._mapping = row._mapping

    def __getattr__(self, name: str) -> Any:
        return self._mapping["usr__" + name]


def _live(now: datetime) -> Any:
    return (
        sessions.c.revoked_at.is_(None)
        & (sessions.c.expires_at > now)
        & (sessions.c.idle_expires_at > now)
    )


class SqlSessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, session: AuthSession) -> None:
        await self._session.execute(
            insert(sessions).values(
                id=session.id,
                user_id=session.user_id,
                token_hash=session.token_hash,
                created_at=session.created_at,
                last_seen_at=session.last_seen_at,
                expires_at=session.expires_at,
                idle_expires_at=session.idle_expires_at,
                user_agent=session.user_agent,
                ip=session.ip,
                revoked_at=session.revoked_at,
            )
        )

    async def find_active(self, token_hash: str, now: datetime) -> tuple[AuthSession, User] | None:
        query = (
            select(*_SESSION_COLUMNS, *_USER_COLUMNS)
            .join(users, users.c.id == sessions.c.user_id)
            .where(sessions.c.token_hash == token_hash)
            .where(_live(now))
        )
        row = (await self._session.execute(query)).first()
        return (_session(row), _user(_Prefixed(row))) if row else None

    async def get(self, user_id: str, session_id: str) -> AuthSession | None:
        query = select(sessions).where(sessions.c.id == session_id, sessions.c.user_id == user_id)
        row = (await self._session.execute(query)).first()
        return _session(row) if row else None

    async def list_active(self, user_id: str, now: datetime) -> Sequence[AuthSession]:
        query = (
            select(sessions)
            .where(sessions.c.user_id == user_id)
            .where(_live(now))
            .order_by(sessions.c.last_seen_at.desc(), sessions.c.id.desc())
        )
        return [_session(row) for row in await self._session.execute(query)]

    async def touch(
        self, session_id: str, last_seen_at: datetime, idle_expires_at: datetime
    ) -> None:
        await self._session.execute(
            update(sessions)
            .where(sessions.c.id == session_id)
            .values(last_seen_at=last_seen_at, idle_expires_at=idle_expires_at)
        )

    async def revoke(self, session_id: str, at: datetime) -> None:
        await self._session.execute(
            update(sessions)
            .where(sessions.c.id == session_id, sessions.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )

    async def revoke_all(self, user_id: str, at: datetime, keep: str | None = None) -> int:
        query = update(sessions).where(sessions.c.user_id == user_id).where(_live(at))
        if keep is not None:
            query = query.where(sessions.c.id != keep)
        result = await self._session.execute(query.values(revoked_at=at))
        return int(getattr(result, "rowcount", 0) or 0)


def _email_token(row: Any) -> EmailToken:
    return EmailToken(
        id=row.id,
        user_id=row.user_id,
        purpose=TokenPurpose(row.purpose),
        token_hash=row.token_hash,
        created_at=row.created_at,
        expires_at=row.expires_at,
        used_at=row.used_at,
    )


class SqlEmailTokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, token: EmailToken) -> None:
        await self._session.execute(
            insert(email_tokens).values(
                id=token.id,
                user_id=token.user_id,
                purpose=token.purpose.value,
                token_hash=token.token_hash,
                created_at=token.created_at,
                expires_at=token.expires_at,
                used_at=token.used_at,
            )
        )

    async def find_usable(
        self, token_hash: str, purpose: TokenPurpose, now: datetime
    ) -> EmailToken | None:
        query = select(email_tokens).where(
            email_tokens.c.token_hash == token_hash,
            email_tokens.c.purpose == purpose.value,
            email_tokens.c.used_at.is_(None),
            email_tokens.c.expires_at > now,
        )
        row = (await self._session.execute(query)).first()
        return _email_token(row) if row else None

    async def use(self, token_id: str, at: datetime) -> bool:
        result = await self._session.execute(
            update(email_tokens)
            .where(email_tokens.c.id == token_id, email_tokens.c.used_at.is_(None))
            .values(used_at=at)
        )
        return bool(getattr(result, "rowcount", 0))

    async def revoke_all(self, user_id: str, purpose: TokenPurpose, at: datetime) -> None:
        await self._session.execute(
            update(email_tokens)
            .where(
                email_tokens.c.user_id == user_id,
                email_tokens.c.purpose == purpose.value,
                email_tokens.c.used_at.is_(None),
            )
            .values(used_at=at)
        )


class SqlRecoveryCodeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def replace_all(self, user_id: str, codes: Sequence[RecoveryCode]) -> None:
        await self.delete_all(user_id)
        if codes:
            await self._session.execute(
                insert(recovery_codes),
                [
                    {"id": c.id, "user_id": c.user_id, "code_hash": c.code_hash, "used_at": None}
                    for c in codes
                ],
            )

    async def use(self, user_id: str, code_hash: str, at: datetime) -> bool:
        result = await self._session.execute(
            update(recovery_codes)
            .where(
                recovery_codes.c.user_id == user_id,
                recovery_codes.c.code_hash == code_hash,
                recovery_codes.c.used_at.is_(None),
            )
            .values(used_at=at)
        )
        return bool(getattr(result, "rowcount", 0))

    async def count_unused(self, user_id: str) -> int:
        query = (
            select(func.count())
            .select_from(recovery_codes)
            .where(recovery_codes.c.user_id == user_id, recovery_codes.c.used_at.is_(None))
        )
        return int((await self._session.execute(query)).scalar_one())

    async def delete_all(self, user_id: str) -> None:
        await self._session.execute(
            delete(recovery_codes).where(recovery_codes.c.user_id == user_id)
        )


def _invitation(row: Any) -> Invitation:
    return Invitation(
        id=row.id,
        workspace_id=row.workspace_id,
        email=row.email,
        role=WorkspaceRole(row.role),
        token_hash=row.token_hash,
        invited_by=row.invited_by,
        created_at=row.created_at,
        expires_at=row.expires_at,
        accepted_at=row.accepted_at,
        revoked_at=row.revoked_at,
    )


def _open_invitation(tenant: TenantContext) -> Any:
    return (
        (invitations.c.workspace_id == tenant.workspace_id)
        & invitations.c.accepted_at.is_(None)
        & invitations.c.revoked_at.is_(None)
    )


class SqlInvitationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, invitation: Invitation) -> None:
        await self._session.execute(
            insert(invitations).values(
                id=invitation.id,
                workspace_id=invitation.workspace_id,
                email=invitation.email,
                role=invitation.role.value,
                token_hash=invitation.token_hash,
                invited_by=invitation.invited_by,
                created_at=invitation.created_at,
                expires_at=invitation.expires_at,
                accepted_at=invitation.accepted_at,
                revoked_at=invitation.revoked_at,
            )
        )

    async def get(self, tenant: TenantContext, invitation_id: str) -> Invitation | None:
        query = select(invitations).where(
            invitations.c.workspace_id == tenant.workspace_id, invitations.c.id == invitation_id
        )
        row = (await self._session.execute(query)).first()
        return _invitation(row) if row else None

    async def pending(self, tenant: TenantContext, now: datetime) -> Sequence[Invitation]:
        query = (
            select(invitations)
            .where(_open_invitation(tenant), invitations.c.expires_at > now)
            .order_by(invitations.c.created_at, invitations.c.id)
        )
        return [_invitation(row) for row in await self._session.execute(query)]

    async def find_by_token_hash(self, token_hash: str) -> Invitation | None:
        query = select(invitations).where(invitations.c.token_hash == token_hash)
        row = (await self._session.execute(query)).first()
        return _invitation(row) if row else None

    async def revoke(self, tenant: TenantContext, invitation_id: str, at: datetime) -> bool:
        result = await self._session.execute(
            update(invitations)
            .where(_open_invitation(tenant), invitations.c.id == invitation_id)
            .where(invitations.c.expires_at > at)
            .values(revoked_at=at)
        )
        return bool(getattr(result, "rowcount", 0))

    async def revoke_for_email(self, tenant: TenantContext, email: str, at: datetime) -> None:
        await self._session.execute(
            update(invitations)
            .where(_open_invitation(tenant), invitations.c.email == email)
            .values(revoked_at=at)
        )

    async def accept(self, tenant: TenantContext, invitation_id: str, at: datetime) -> bool:
        # One conditional UPDATE: of two concurrent accepts, only one matches.
        result = await self._session.execute(
            update(invitations)
            .where(_open_invitation(tenant), invitations.c.id == invitation_id)
            .where(invitations.c.expires_at > at)
            .values(accepted_at=at)
        )
        return bool(getattr(result, "rowcount", 0))


def _teams_of(tenant: TenantContext) -> Any:
    return select(teams.c.id).where(teams.c.workspace_id == tenant.workspace_id)


class SqlTeamRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, tenant: TenantContext, team: Team) -> None:
        if team.workspace_id != tenant.workspace_id:
            raise ValueError("a team can only be added to the tenant's own workspace")
        try:
            async with self._session.begin_nested():
                await self._session.execute(
                    insert(teams).values(
                        id=team.id,
                        workspace_id=team.workspace_id,
                        name=team.name,
                        created_at=team.created_at,
                    )
                )
        except IntegrityError as exc:
            raise TeamNameTakenError(field="name") from exc
        for user_id in team.member_ids:
            await self.add_member(tenant, team.id, user_id)

    async def get(self, tenant: TenantContext, team_id: str) -> Team | None:
        found = await self._select(tenant, teams.c.id == team_id)
        return found[0] if found else None

    async def list_teams(self, tenant: TenantContext) -> Sequence[Team]:
        return await self._select(tenant)

    async def _select(self, tenant: TenantContext, *where: Any) -> list[Team]:
        query = (
            select(teams)
            .where(teams.c.workspace_id == tenant.workspace_id, *where)
            .order_by(teams.c.name, teams.c.id)
        )
        found = [
            Team(id=row.id, workspace_id=row.workspace_id, name=row.name, created_at=row.created_at)
            for row in await self._session.execute(query)
        ]
        if found:
            by_id = {team.id: team for team in found}
            members = (
                select(team_members.c.team_id, team_members.c.user_id)
                .where(team_members.c.team_id.in_(list(by_id)))
                .order_by(team_members.c.user_id)
            )
            for row in await self._session.execute(members):
                by_id[row.team_id].member_ids.append(row.user_id)
        return found

    async def rename(self, tenant: TenantContext, team_id: str, name: str) -> None:
        try:
            async with self._session.begin_nested():
                await self._session.execute(
                    update(teams)
                    .where(teams.c.workspace_id == tenant.workspace_id, teams.c.id == team_id)
                    .values(name=name)
                )
        except IntegrityError as exc:
            raise TeamNameTakenError(field="name") from exc

    async def delete(self, tenant: TenantContext, team_id: str) -> None:
        mine = teams.c.id.in_(_teams_of(tenant).where(teams.c.id == team_id))
        await self._session.execute(
            delete(team_members).where(
                team_members.c.team_id.in_(_teams_of(tenant).where(teams.c.id == team_id))
            )
        )
        await self._session.execute(delete(teams).where(mine))

    async def add_member(self, tenant: TenantContext, team_id: str, user_id: str) -> None:
        if await self.get(tenant, team_id) is None:
            raise ValueError("a member can only be added to one of the tenant's teams")
        exists = select(team_members.c.team_id).where(
            team_members.c.team_id == team_id, team_members.c.user_id == user_id
        )
        if (await self._session.execute(exists)).first() is not None:
            return
        try:
            async with self._session.begin_nested():
                await self._session.execute(
                    insert(team_members).values(team_id=team_id, user_id=user_id)
                )
        except IntegrityError:  # a concurrent add won: the member is in the team
            pass

    async def remove_member(self, tenant: TenantContext, team_id: str, user_id: str) -> None:
        await self._session.execute(
            delete(team_members).where(
                team_members.c.team_id.in_(_teams_of(tenant).where(teams.c.id == team_id)),
                team_members.c.user_id == user_id,
            )
        )

    async def remove_from_all(self, tenant: TenantContext, user_id: str) -> None:
        await self._session.execute(
            delete(team_members).where(
                team_members.c.team_id.in_(_teams_of(tenant)), team_members.c.user_id == user_id
            )
        )
