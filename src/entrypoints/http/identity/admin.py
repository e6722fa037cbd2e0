"""The platform staff's endpoints: ``/api/v1/admin``.

``staff_guard`` runs before anything else of the request: anonymous requests get 401 as
everywhere; a signed-in user without a staff role gets the 404 ``not-found`` problem an
unknown route gets (the admin surface answers nothing more to them); staff without
two-factor authentication on get 403 ``identity/staff-2fa-required`` in production, or
wherever ``NINEFOLD_STAFF_REQUIRE_2FA`` is true. What each staff role may do is checked by
``StaffService`` (403 ``identity/staff-permission-denied``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.handlers import BaseRouteHandler
from litestar.params import FromPath, JSONBody, Parameter

from adapters.sql.uow import SqlUnitOfWork
from core.identity import (
    Principal,
    StaffService,
    StaffTwoFactorRequiredError,
    UnauthenticatedError,
    User,
)
from core.identity.admin import USERS_PAGE_DEFAULT, USERS_PAGE_MAX
from core.kernel import NotFoundError
from entrypoints.containers import ApplicationContainer
from entrypoints.http.auth import authenticate, provide_principal
from entrypoints.http.principal_cache import PrincipalCache

Uow = NamedDependency[SqlUnitOfWork]
CurrentPrincipal = NamedDependency[Principal]


def principal_cache_of(state: State) -> PrincipalCache:
    cache: PrincipalCache = state.principal_cache
    return cache


class AdminUserOut(msgspec.Struct):
    id: str
    email: str
    name: str
    created_at: datetime
    email_verified: bool
    two_factor_enabled: bool
    staff_role: str | None
    banned_at: datetime | None

    @classmethod
    def of(cls, user: User) -> AdminUserOut:
        return cls(
            id=user.id,
            email=user.email,
            name=user.name,
            created_at=user.created_at,
            email_verified=user.email_verified_at is not None,
            two_factor_enabled=user.two_factor_enabled,
            staff_role=user.staff_role.value if user.staff_role else None,
            banned_at=user.banned_at,
        )


class AdminUsersPage(msgspec.Struct):
    users: list[AdminUserOut]
    next_cursor: str | None


class BanIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: str


async def staff_guard(
    connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler
) -> None:
    principal = await authenticate(connection)
    if principal is None:
        raise UnauthenticatedError(headers={"WWW-Authenticate": 'Bearer realm="ninefold"'})
    if principal.user.staff_role is None:
        raise NotFoundError()
    container: ApplicationContainer = connection.app.state.container
    if container.settings().staff_need_2fa and not principal.user.two_factor_enabled:
        raise StaffTwoFactorRequiredError(
            "turn on two-factor authentication (/api/v1/me/2fa) to use the staff endpoints"
        )


def _staff(state: State, uow: SqlUnitOfWork) -> StaffService:
    container: ApplicationContainer = state.container
    service: StaffService = container.identity.staff(uow=uow)
    return service


class AdminController(Controller):
    path = "/api/v1/admin"
    tags = ["admin"]
    guards = [staff_guard]
    dependencies = {"principal": Provide(provide_principal)}

    @get("/users", summary="Search users by email prefix (staff: support and up)")
    async def list_users(
        self,
        *,
        state: State,
        principal: CurrentPrincipal,
        uow: Uow,
        q: Annotated[str, Parameter(description="email prefix", max_length=254)] = "",
        cursor: Annotated[
            str | None, Parameter(description="next_cursor of the page before")
        ] = None,
        limit: Annotated[int, Parameter(ge=1, le=USERS_PAGE_MAX)] = USERS_PAGE_DEFAULT,
    ) -> AdminUsersPage:
        page = await _staff(state, uow).search_users(principal.user, q, cursor, limit)
        return AdminUsersPage([AdminUserOut.of(u) for u in page.users], page.next_cursor)

    @get("/users/{user_id:str}", summary="One user (staff: support and up)")
    async def read_user(
        self, state: State, principal: CurrentPrincipal, user_id: FromPath[str], uow: Uow
    ) -> AdminUserOut:
        return AdminUserOut.of(await _staff(state, uow).get_user(principal.user, user_id))

    @post(
        "/users/{user_id:str}/ban",
        summary="Ban a user and end all their sessions (staff: ops and superadmin)",
        status_code=200,
    )
    async def ban(
        self,
        *,
        state: State,
        principal: CurrentPrincipal,
        user_id: FromPath[str],
        data: JSONBody[BanIn],
        uow: Uow,
    ) -> AdminUserOut:
        user = await _staff(state, uow).ban(principal.user, user_id, data.reason)
        principal_cache_of(state).forget_user(user_id)
        return AdminUserOut.of(user)

    @post(
        "/users/{user_id:str}/unban",
        summary="Lift a user's ban (staff: ops and superadmin)",
        status_code=200,
    )
    async def unban(
        self, state: State, principal: CurrentPrincipal, user_id: FromPath[str], uow: Uow
    ) -> AdminUserOut:
        return AdminUserOut.of(await _staff(state, uow).unban(principal.user, user_id))
