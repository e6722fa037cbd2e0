"""Invitations to a workspace: ``/api/v1/workspaces/{workspace_id}/invitations`` for the
members who invite, and ``/api/v1/invitations/{token}/accept`` for the person invited."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody

from adapters.sql.uow import SqlUnitOfWork
from core.identity import (
    Invitation,
    InvitationService,
    Principal,
    SessionService,
    UnauthenticatedError,
    WorkspaceAccess,
    WorkspaceRole,
)
from entrypoints.containers import ApplicationContainer
from entrypoints.http.auth import authenticate, csrf_token, provide_principal, session_cookies
from entrypoints.http.client import client_of
from entrypoints.http.identity.schemas import Email, Me, Password, SessionOut
from entrypoints.http.identity.workspaces import WorkspaceOut, provide_access, tenant_guard

Uow = NamedDependency[SqlUnitOfWork]
CurrentPrincipal = NamedDependency[Principal]
Access = NamedDependency[WorkspaceAccess]


class InvitationOut(msgspec.Struct):
    id: str
    email: str
    role: str
    invited_by: str
    created_at: datetime
    expires_at: datetime

    @classmethod
    def of(cls, invitation: Invitation) -> InvitationOut:
        return cls(
            id=invitation.id,
            email=invitation.email,
            role=invitation.role.value,
            invited_by=invitation.invited_by,
            created_at=invitation.created_at,
            expires_at=invitation.expires_at,
        )


class NewInvitation(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    role: WorkspaceRole = WorkspaceRole.MEMBER


class AcceptInvitation(msgspec.Struct, forbid_unknown_fields=True):
    """Only for someone not signed in whose email has no account yet: the account to
    create (its email is the invited one, verified by the link)."""

    password: Password
    name: Annotated[str, msgspec.Meta(max_length=200)] = ""
    transport: Literal["cookie", "bearer"] = "cookie"
    """As for sign-in: ``cookie`` sets the session cookies, ``bearer`` answers the token."""


class InvitationAcceptedOut(msgspec.Struct, omit_defaults=True):
    workspace: WorkspaceOut
    user: Me | None = None
    """With the session fields below only when the account was created just now."""
    session: SessionOut | None = None
    token: str | None = None
    csrf_token: str | None = None


def _container(state: State) -> ApplicationContainer:
    container: ApplicationContainer = state.container
    return container


def _service(state: State, uow: SqlUnitOfWork) -> InvitationService:
    service: InvitationService = _container(state).identity.invitations(uow=uow)
    return service


def _client(request: Request[Any, Any, Any]) -> dict[str, str]:
    return client_of(request)


class InvitationsController(Controller):
    path = "/api/v1/workspaces"
    tags = ["workspaces"]
    guards = [tenant_guard]
    dependencies = {
        "principal": Provide(provide_principal),
        "access": Provide(provide_access),
    }

    @get(
        "/{workspace_id:str}/invitations",
        summary="The workspace's pending invitations",
        opt={"permission": "members:invite"},
    )
    async def list_pending(self, state: State, access: Access, uow: Uow) -> list[InvitationOut]:
        return [InvitationOut.of(i) for i in await _service(state, uow).pending(access)]

    @post(
        "/{workspace_id:str}/invitations",
        summary="Invite someone by email with a role; the link goes by email",
        description="The link works once, for 7 days. Inviting the same email again "
        "replaces the pending invitation; only owners invite owners.",
        opt={"permission": "members:invite"},
    )
    async def invite(
        self,
        state: State,
        access: Access,
        principal: CurrentPrincipal,
        data: JSONBody[NewInvitation],
        uow: Uow,
    ) -> InvitationOut:
        invitation = await _service(state, uow).invite(
            access, data.email, data.role, inviter_name=principal.user.name
        )
        return InvitationOut.of(invitation)

    @delete(
        "/{workspace_id:str}/invitations/{invitation_id:str}",
        summary="Revoke a pending invitation",
        status_code=204,
        opt={"permission": "members:invite"},
    )
    async def revoke(
        self, state: State, access: Access, invitation_id: FromPath[str], uow: Uow
    ) -> None:
        await _service(state, uow).revoke(access, invitation_id)


class InvitationAcceptController(Controller):
    path = "/api/v1/invitations"
    tags = ["workspaces"]

    @post(
        "/{token:str}/accept",
        summary="Accept an invitation: join the workspace",
        status_code=200,
        description="Signed in with the invited email: join (no body needed). Not signed "
        "in, when no account has the invited email: send ``{password, name, transport}`` "
        "to create it (email verified) and get a session, as with sign-in. When an "
        "account exists, sign in first (401).",
    )
    async def accept(
        self,
        request: Request[Any, Any, Any],
        state: State,
        token: FromPath[str],
        uow: Uow,
        data: JSONBody[AcceptInvitation | None] = None,
    ) -> Response[InvitationAcceptedOut]:
        client = _client(request)
        service = _service(state, uow)
        principal = await authenticate(request)
        if principal is not None:
            workspace, membership = await service.accept(token, principal, ip=client["ip"])
            return Response(InvitationAcceptedOut(WorkspaceOut.of(workspace, membership)))
        if data is None:
            raise UnauthenticatedError(
                "sign in to accept the invitation, or send a password to create the account "
                "it is for",
                headers={"WWW-Authenticate": 'Bearer realm="ninefold"'},
            )
        user, workspace, membership = await service.sign_up_and_accept(
            token, data.password, data.name, ip=client["ip"]
        )
        sessions: SessionService = _container(state).identity.sessions(session=uow.session)
        signed_in = await sessions.open_session(
            user, ip=client["ip"], user_agent=client["user_agent"]
        )
        body = InvitationAcceptedOut(
            workspace=WorkspaceOut.of(workspace, membership),
            user=Me.of(user),
            session=SessionOut.of(signed_in.session, signed_in.session.id),
        )
        headers = {"Cache-Control": "no-store"}
        if data.transport == "bearer":
            body.token = signed_in.token
            return Response(body, headers=headers)
        body.csrf_token = csrf_token(_container(state).settings().secret_key, signed_in.session.id)
        return Response(body, cookies=session_cookies(state, signed_in), headers=headers)
