"""Identity's part of data export and erasure, and what the data service asks identity
(``AccountDirectory``), on identity's own tables.

Erasing a user deletes their account and everything hanging on it (sessions, email
tokens, recovery codes, the 2FA secret with the row, memberships, team memberships, the
API keys they created, invitations to their address); where another record names them
(an invitation they sent), their id becomes the pseudonym.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.data_subject import records, sweep
from adapters.sql.identity.tables import (
    api_keys,
    email_tokens,
    invitations,
    memberships,
    metadata,
    recovery_codes,
    sessions,
    team_members,
    teams,
    users,
    workspaces,
)
from core.safety.data import DataSubject, Pseudonym, Records

OWNER = "owner"


class SqlIdentityDataPart:
    name = "identity"

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def export_user(self, user_id: str) -> Records:
        session = self._session
        account = await records(
            session,
            select(users, (users.c.totp_enabled_at.is_not(None)).label("two_factor_enabled")).where(
                users.c.id == user_id
            ),
            leave_out={"password_hash", "totp_secret", "totp_last_step"},
        )
        email = account[0]["email"] if account else ""
        return {
            "account": account,
            "memberships": await records(
                session,
                select(memberships, workspaces.c.name.label("workspace_name"))
                .join(workspaces, workspaces.c.id == memberships.c.workspace_id)
                .where(memberships.c.user_id == user_id),
            ),
            "teams": await records(
                session,
                select(teams.c.workspace_id, teams.c.id, teams.c.name)
                .join(team_members, team_members.c.team_id == teams.c.id)
                .where(team_members.c.user_id == user_id),
            ),
            "sessions": await records(
                session, select(sessions).where(sessions.c.user_id == user_id)
            ),
            "api_keys": await records(
                session, select(api_keys).where(api_keys.c.created_by == user_id)
            ),
            "invitations": await records(
                session,
                select(invitations).where(
                    (invitations.c.invited_by == user_id) | (invitations.c.email == email)
                ),
            ),
        }

    async def export_workspace(self, workspace_id: str) -> Records:
        session = self._session
        return {
            "workspace": await records(
                session, select(workspaces).where(workspaces.c.id == workspace_id)
            ),
            "members": await records(
                session,
                select(memberships, users.c.email, users.c.name)
                .join(users, users.c.id == memberships.c.user_id)
                .where(memberships.c.workspace_id == workspace_id),
            ),
            "teams": await records(
                session, select(teams).where(teams.c.workspace_id == workspace_id)
            ),
            "team_members": await records(
                session,
                select(team_members)
                .join(teams, teams.c.id == team_members.c.team_id)
                .where(teams.c.workspace_id == workspace_id),
            ),
            "invitations": await records(
                session, select(invitations).where(invitations.c.workspace_id == workspace_id)
            ),
            "api_keys": await records(
                session, select(api_keys).where(api_keys.c.workspace_id == workspace_id)
            ),
        }

    async def erase_user(self, subject: DataSubject, pseudonym: Pseudonym) -> None:
        session, user_id = self._session, subject.user_id
        for table in (sessions, email_tokens, recovery_codes, team_members, memberships):
            await session.execute(delete(table).where(table.c.user_id == user_id))
        await session.execute(delete(api_keys).where(api_keys.c.created_by == user_id))
        if subject.email:
            await session.execute(delete(invitations).where(invitations.c.email == subject.email))
        await session.execute(delete(users).where(users.c.id == user_id))
        # Invitations they sent, and anything else naming them: the pseudonym.
        await sweep(session, metadata, pseudonym.replacements(subject))

    async def erase_workspace(self, workspace_id: str) -> None:
        # Identity's purge deleted the workspace and, by cascade, what hangs on it; a
        # purge that ran without the cascade (or rows added since) is completed here.
        session = self._session
        team_ids = select(teams.c.id).where(teams.c.workspace_id == workspace_id)
        await session.execute(delete(team_members).where(team_members.c.team_id.in_(team_ids)))
        for table in (teams, invitations, api_keys, memberships):
            await session.execute(delete(table).where(table.c.workspace_id == workspace_id))
        await session.execute(delete(workspaces).where(workspaces.c.id == workspace_id))

    # --- AccountDirectory -----------------------------------------------------------

    async def subject(self, user_id: str) -> DataSubject | None:
        row = (
            await self._session.execute(
                select(users.c.id, users.c.email, users.c.name).where(users.c.id == user_id)
            )
        ).first()
        return DataSubject(user_id=row.id, email=row.email, name=row.name) if row else None

    async def sole_owned_workspaces(self, user_id: str) -> Sequence[str]:
        owners = memberships.alias("owners")
        owner_count = (
            select(func.count())
            .select_from(owners)
            .where(owners.c.workspace_id == memberships.c.workspace_id, owners.c.role == OWNER)
            .scalar_subquery()
        )
        query = (
            select(memberships.c.workspace_id)
            .join(
                workspaces,
                and_(
                    workspaces.c.id == memberships.c.workspace_id, workspaces.c.deleted_at.is_(None)
                ),
            )
            .where(memberships.c.user_id == user_id, memberships.c.role == OWNER, owner_count == 1)
            .order_by(memberships.c.workspace_id)
        )
        return list((await self._session.execute(query)).scalars())
