"""Impersonation over HTTP (docs/systems/safety/impersonation.md).

Staff start one at ``POST /api/v1/admin/impersonations`` and get a session of the user's
own: a bearer token, or (cookie transport) the session cookies, the staff member's own
session token kept aside in the HttpOnly ``nf_staff_session`` cookie that only
``/api/v1/impersonation`` receives. ``POST /api/v1/impersonation/stop`` from the
impersonation session ends it and returns to the staff session (the cookies put back).

``ImpersonationLayer`` sits around the whole app (like ``context.RequestContext``): a
request whose session token is an impersonation's (``nf_sess_imp_…``) is looked up by it
on every request, and then

- carries ``X-Impersonation`` (the id), ``X-Impersonator`` (the staff member's id) and
  ``X-Impersonation-Expires`` on its response, whatever it is (a banner for the UI);
- runs with the request context naming the user as actor and the staff member as
  impersonator, so every audit entry written meanwhile carries both;
- is refused with 403 ``safety/impersonation-active`` on ``/api/v1/admin…``;
- once the impersonation has ended (stopped, expired, ended by staff) is refused with 401
  ``safety/impersonation-ended``, the expiry recorded then if not before (except the stop
  route, which still returns to the staff session);
- is recorded when answered: an ``impersonation.action`` event with the method, the path,
  the status and both ids, reads included.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, State
from litestar.di import NamedDependency, Provide
from litestar.enums import ScopeType
from litestar.params import FromPath, JSONBody, Parameter
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from adapters.sql.uow import SqlUnitOfWork
from core.identity import (
    IMPERSONATION_TOKEN_PREFIX,
    Principal,
    SessionService,
    SignedIn,
    UnauthenticatedError,
)
from core.kernel import DomainError
from core.kernel.errors import PROBLEM_BASE
from core.safety.context import ActorType, current_context, set_context, update_context
from core.safety.impersonation import (
    PAGE_DEFAULT,
    PAGE_MAX,
    ImpersonatedAction,
    Impersonation,
    ImpersonationActiveError,
    ImpersonationEndedError,
    ImpersonationService,
    NotImpersonatingError,
)
from entrypoints.containers import ApplicationContainer
from entrypoints.http.auth import (
    SESSION_COOKIE,
    authenticate,
    clear_session_cookies,
    csrf_token,
    provide_principal,
    session_cookies,
)
from entrypoints.http.client import client_of
from entrypoints.http.dependencies import container_of
from entrypoints.http.identity.admin import staff_guard

logger = logging.getLogger("ninefold.safety")

Uow = NamedDependency[SqlUnitOfWork]
CurrentPrincipal = NamedDependency[Principal]

IMPERSONATION_HEADER = "x-impersonation"
IMPERSONATOR_HEADER = "x-impersonator"
EXPIRES_HEADER = "x-impersonation-expires"
STAFF_SESSION_COOKIE = "nf_staff_session"
STOP_BASE = "/api/v1/impersonation"
STOP_PATH = STOP_BASE + "/stop"
ADMIN_PREFIX = "/api/v1/admin"
_STATE_KEY = "impersonation"


def impersonation_service(
    container: ApplicationContainer, uow: SqlUnitOfWork
) -> ImpersonationService:
    sessions: SessionService = container.identity.sessions(session=uow.session)
    service: ImpersonationService = container.safety.impersonations(uow=uow, sessions=sessions)
    return service


def current_impersonation(request: Request[Any, Any, Any]) -> Impersonation | None:
    """The impersonation the request's session belongs to (ended ones only on stop)."""
    found: Impersonation | None = request.scope.get("state", {}).get(_STATE_KEY)
    return found


def impersonator_of(request: Request[Any, Any, Any]) -> str | None:
    """The staff member acting as the signed-in user, if this is an impersonation."""
    found = current_impersonation(request)
    return found.staff_id if found is not None else None


# --- the layer around the app ---------------------------------------------------------


def _session_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The session token the request authenticates with, read exactly as ``auth`` reads
    it (the same accessors), so that no request can look ordinary here and be an
    impersonation there."""
    authorization = connection.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    cookie = connection.cookies.get(SESSION_COOKIE)
    return cookie or None


def _is_admin(path: str) -> bool:
    return path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")


class ImpersonationLayer:
    """See the module's docstring. Requests without an impersonation token pass
    through untouched (a prefix check, no database)."""

    def __init__(self, app: ASGIApp, container: ApplicationContainer) -> None:
        self._app = app
        self._container = container

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self._app(scope, receive, send)
            return
        token = _session_token(ASGIConnection(scope))
        if token is None or not token.startswith(IMPERSONATION_TOKEN_PREFIX + "_"):
            await self._app(scope, receive, send)
            return
        impersonation = await self._look_up(token)
        if impersonation is None:  # an ordinary token that happens to look like one
            await self._app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state[_STATE_KEY] = impersonation
        state["impersonator_id"] = impersonation.staff_id  # read by ``acting.stamp``
        path: str = scope["path"]
        if not impersonation.is_active(self._container.kernel.clock().now()):
            if path == STOP_PATH:
                await self._app(scope, receive, send)
            else:
                ended = ImpersonationEndedError(
                    f"impersonation {impersonation.id} has "
                    f"{impersonation.ended_reason or 'ended'}: return to your own session",
                    impersonation_id=impersonation.id,
                )
                await _send_problem(send, ended, path, state.get("request_id"))
            return
        await self._serve(impersonation, scope, receive, send)

    async def _serve(
        self, impersonation: Impersonation, scope: Scope, receive: Receive, send: Send
    ) -> None:
        marks = [
            (IMPERSONATION_HEADER.encode(), impersonation.id.encode()),
            (IMPERSONATOR_HEADER.encode(), impersonation.staff_id.encode()),
            (EXPIRES_HEADER.encode(), impersonation.expires_at.isoformat().encode()),
        ]
        status = 500

        async def send_marked(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), *marks]
            await send(message)

        previous = current_context()
        update_context(
            actor_type=ActorType.USER,
            actor_id=impersonation.user_id,
            impersonator_id=impersonation.staff_id,
        )
        try:
            path: str = scope["path"]
            if _is_admin(path):
                refused = ImpersonationActiveError(
                    "an impersonation session cannot use the staff endpoints: stop it "
                    f"(POST {STOP_PATH}) and use your own session",
                    impersonation_id=impersonation.id,
                )
                await _send_problem(send_marked, refused, path, scope["state"].get("request_id"))
            else:
                await self._app(scope, receive, send_marked)
        finally:
            try:
                method = str(scope.get("method", ""))
                await self._record(impersonation, method, scope["path"], status)
            finally:
                set_context(previous)

    async def _look_up(self, token: str) -> Impersonation | None:
        async with self._container.unit_of_work() as uow:
            found = await impersonation_service(self._container, uow).current(token)
            await uow.commit()  # an expiry noticed now is recorded
        return found

    async def _record(
        self, impersonation: Impersonation, method: str, path: str, status: int
    ) -> None:
        """The request's ``impersonation.action``, in a transaction of its own once the
        request's has ended. A failure is logged loudly; the answer has gone already."""
        try:
            async with self._container.unit_of_work() as uow:
                uow.raise_event(
                    ImpersonatedAction(
                        occurred_at=self._container.kernel.clock().now(),
                        impersonation_id=impersonation.id,
                        staff_id=impersonation.staff_id,
                        user_id=impersonation.user_id,
                        method=method,
                        path=path[:500],
                        status=status,
                    )
                )
                await uow.commit()
        except Exception:
            logger.exception(
                "could not record %s %s made in impersonation %s", method, path, impersonation.id
            )


async def _send_problem(send: Send, error: DomainError, path: str, request_id: Any) -> None:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + error.type,
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
        "instance": path,
        **error.extra,
    }
    if request_id:
        body["request_id"] = request_id
    encoded = msgspec.json.encode(body)
    await send(
        {
            "type": "http.response.start",
            "status": error.status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(encoded)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": encoded, "more_body": False})


# --- schemas --------------------------------------------------------------------------


class StartIn(msgspec.Struct, forbid_unknown_fields=True):
    user_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    reason: Annotated[str, msgspec.Meta(max_length=2000)]
    minutes: int | None = None
    """How long, at most ``NINEFOLD_IMPERSONATION_MAX_MINUTES`` (the default)."""
    transport: Literal["cookie", "bearer"] = "cookie"
    """``bearer``: the token is in the answer, keep your own for when you stop.
    ``cookie``: the session cookies become the user's, yours kept aside until stop."""


class ImpersonationOut(msgspec.Struct):
    id: str
    staff_id: str
    user_id: str
    reason: str
    started_at: datetime
    expires_at: datetime
    active: bool
    ended_at: datetime | None
    ended_reason: str | None
    ended_by: str | None

    @classmethod
    def of(cls, found: Impersonation, now: datetime) -> ImpersonationOut:
        return cls(
            id=found.id,
            staff_id=found.staff_id,
            user_id=found.user_id,
            reason=found.reason,
            started_at=found.started_at,
            expires_at=found.expires_at,
            active=found.is_active(now),
            ended_at=found.ended_at,
            ended_reason=found.ended_reason.value if found.ended_reason else None,
            ended_by=found.ended_by,
        )


class StartedOut(msgspec.Struct, omit_defaults=True):
    impersonation: ImpersonationOut
    session_id: str
    token: str | None = None
    """Only with ``transport: bearer``: the user's session, until ``expires_at``."""
    csrf_token: str | None = None
    """Only with ``transport: cookie``: the impersonation session's CSRF token."""


class ImpersonationsPage(msgspec.Struct):
    impersonations: list[ImpersonationOut]
    next_cursor: str | None


class StoppedOut(msgspec.Struct, omit_defaults=True):
    impersonation: ImpersonationOut
    staff_session_id: str
    """The session stop returns to: bearer clients use their own token again."""
    csrf_token: str | None = None
    """When the cookies were put back: the staff session's CSRF token."""


# --- routes ---------------------------------------------------------------------------


def _now(state: State) -> datetime:
    now: datetime = container_of(state).kernel.clock().now()
    return now


class ImpersonationsAdminController(Controller):
    """Staff: start, list, read and end impersonations."""

    path = ADMIN_PREFIX + "/impersonations"
    tags = ["admin", "safety"]
    guards = [staff_guard]
    dependencies = {"principal": Provide(provide_principal)}

    @post(
        "/",
        summary="Act as a user, for a reason, for at most an hour (staff: support and up)",
        status_code=201,
    )
    async def start(
        self,
        request: Request[Any, Any, Any],
        state: State,
        principal: CurrentPrincipal,
        data: JSONBody[StartIn],
        uow: Uow,
    ) -> Response[StartedOut]:
        container = container_of(state)
        started = await impersonation_service(container, uow).start(
            principal.user,
            principal.session.id,
            data.user_id,
            data.reason,
            data.minutes,
            **client_of(request),
        )
        signed_in = started.signed_in
        body = StartedOut(
            impersonation=ImpersonationOut.of(started.impersonation, _now(state)),
            session_id=signed_in.session.id,
        )
        headers = {"Cache-Control": "no-store"}
        if data.transport == "bearer":
            body.token = signed_in.token
            return Response(body, status_code=201, headers=headers)
        body.csrf_token = csrf_token(container.settings().secret_key, signed_in.session.id)
        cookies = session_cookies(state, signed_in)
        own_token = _session_token(request)
        if own_token is not None:
            cookies.append(_staff_session_cookie(state, own_token, signed_in))
        return Response(body, status_code=201, headers=headers, cookies=cookies)

    @get("/", summary="Impersonations, newest first (staff: support and up)")
    async def list_impersonations(
        self,
        *,
        state: State,
        principal: CurrentPrincipal,
        uow: Uow,
        active: Annotated[bool, Parameter(description="only those under way")] = False,
        staff_id: Annotated[str | None, Parameter(max_length=64)] = None,
        user_id: Annotated[str | None, Parameter(max_length=64)] = None,
        cursor: Annotated[
            str | None, Parameter(description="next_cursor of the page before", max_length=64)
        ] = None,
        limit: Annotated[int, Parameter(ge=1, le=PAGE_MAX)] = PAGE_DEFAULT,
    ) -> ImpersonationsPage:
        page = await impersonation_service(container_of(state), uow).list(
            principal.user,
            active=active,
            staff_id=staff_id,
            user_id=user_id,
            cursor=cursor,
            limit=limit,
        )
        now = _now(state)
        return ImpersonationsPage(
            [ImpersonationOut.of(found, now) for found in page.impersonations], page.next_cursor
        )

    @get("/{impersonation_id:str}", summary="One impersonation (staff: support and up)")
    async def read(
        self, state: State, principal: CurrentPrincipal, impersonation_id: FromPath[str], uow: Uow
    ) -> ImpersonationOut:
        service = impersonation_service(container_of(state), uow)
        found = await service.get(principal.user, impersonation_id)
        return ImpersonationOut.of(found, _now(state))

    @post(
        "/{impersonation_id:str}/end",
        summary="End an impersonation at once (its staff member, or staff: ops and up)",
        status_code=200,
    )
    async def end(
        self, state: State, principal: CurrentPrincipal, impersonation_id: FromPath[str], uow: Uow
    ) -> ImpersonationOut:
        service = impersonation_service(container_of(state), uow)
        ended = await service.end(principal.user, impersonation_id)
        return ImpersonationOut.of(ended, _now(state))


class ImpersonationController(Controller):
    """The impersonation session's own route: stop."""

    path = STOP_BASE
    tags = ["safety"]

    @post(
        "/stop",
        summary="Stop impersonating: the user's session ends, the staff session is back",
        status_code=200,
        description="Send it with the impersonation session. Browsers get their own "
        "session cookies back; bearer clients use their own token again. Works after "
        "the impersonation has expired too.",
    )
    async def stop(
        self, request: Request[Any, Any, Any], state: State, uow: Uow
    ) -> Response[StoppedOut]:
        container = container_of(state)
        impersonation = current_impersonation(request)
        if impersonation is None:
            if await authenticate(request) is None:
                raise UnauthenticatedError(headers={"WWW-Authenticate": 'Bearer realm="ninefold"'})
            raise NotImpersonatingError("this session is not an impersonation: nothing to stop")
        if impersonation.ended_at is None:
            # The token matched the impersonation already. While its session lives, this
            # checks CSRF with cookies; a session identity ended early (sign-out, ban,
            # password reset) may still stop the impersonation: that only takes away.
            principal = await authenticate(request)
            if principal is not None and principal.session.id != impersonation.session_id:
                raise UnauthenticatedError()
            service = impersonation_service(container, uow)
            impersonation = await service.stop(impersonation, impersonation.staff_id)
        body = StoppedOut(
            impersonation=ImpersonationOut.of(impersonation, _now(state)),
            staff_session_id=impersonation.staff_session_id,
        )
        response = Response(body, status_code=200, headers={"Cache-Control": "no-store"})
        kept = request.cookies.get(STAFF_SESSION_COOKIE)
        if kept:
            staff = await container.identity.sessions(session=uow.session).authenticate(kept)
            if staff is not None and staff.session.id == impersonation.staff_session_id:
                signed_in = SignedIn(kept, staff.session, staff.user)
                response.cookies.extend(session_cookies(state, signed_in))
                body.csrf_token = csrf_token(container.settings().secret_key, staff.session.id)
            else:
                clear_session_cookies(response)
            response.delete_cookie(STAFF_SESSION_COOKIE, path=STOP_BASE)
        elif request.cookies.get(SESSION_COOKIE):
            clear_session_cookies(response)
        return response


def _staff_session_cookie(state: State, token: str, signed_in: SignedIn) -> Cookie:
    """The staff member's own session token, kept for stop: HttpOnly, and sent only to
    ``/api/v1/impersonation``. It lives as long as the impersonation session."""
    settings = container_of(state).settings()
    session = signed_in.session
    return Cookie(
        key=STAFF_SESSION_COOKIE,
        value=token,
        httponly=True,
        secure=settings.env != "development",
        samesite="strict",
        path=STOP_BASE,
        max_age=int((session.expires_at - session.created_at).total_seconds()) + 3600,
    )
