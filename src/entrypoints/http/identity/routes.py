"""Sign-in, sign-out, the signed-in user and their sessions."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody

from adapters.sql.uow import SqlUnitOfWork
from core.identity import (
    AccountBannedError,
    AccountService,
    InvalidCredentialsError,
    InvalidTwoFactorCodeError,
    Principal,
    SessionService,
    SignedIn,
    TwoFactorChallengeError,
    TwoFactorRequired,
    TwoFactorService,
)
from core.safety import AuditRecord
from entrypoints.containers import ApplicationContainer
from entrypoints.http.auth import (
    clear_session_cookies,
    csrf_token,
    provide_principal,
    session_cookies,
)
from entrypoints.http.client import client_of
from entrypoints.http.identity.schemas import (
    Accepted,
    ForgotPassword,
    Me,
    MePatch,
    PasswordIn,
    RecoveryCodesOut,
    ResetPassword,
    Revoked,
    SessionOut,
    SignedInOut,
    SignIn,
    SignUp,
    TokenIn,
    TwoFactorChallengeOut,
    TwoFactorCodeIn,
    TwoFactorEnrollmentOut,
    TwoFactorSignIn,
)
from entrypoints.http.principal_cache import PrincipalCache
from entrypoints.http.safety.acting import record
from entrypoints.http.safety.impersonation import impersonator_of
from entrypoints.http.safety.sign_ins import sign_in_refused, signed_in

Uow = NamedDependency[SqlUnitOfWork]
CurrentPrincipal = NamedDependency[Principal]


def _about_me(
    principal: Principal, action: str, after: dict[str, Any] | None = None
) -> AuditRecord:
    return AuditRecord(action=action, target_type="user", target_id=principal.user.id, after=after)


def _container(state: State) -> ApplicationContainer:
    container: ApplicationContainer = state.container
    return container


def _sessions(state: State, uow: SqlUnitOfWork) -> SessionService:
    service: SessionService = _container(state).identity.sessions(session=uow.session)
    return service


def _client(request: Request[Any, Any, Any]) -> dict[str, str]:
    return client_of(request)


def _accounts(state: State, uow: SqlUnitOfWork) -> AccountService:
    service: AccountService = _container(state).identity.accounts(uow=uow)
    return service


def _two_factor(state: State, uow: SqlUnitOfWork) -> TwoFactorService:
    service: TwoFactorService = _container(state).identity.two_factor(uow=uow)
    return service


def _signed_in_response(state: State, signed_in: SignedIn, transport: str) -> Response[Any]:
    body = SignedInOut(
        user=Me.of(signed_in.user),
        session=SessionOut.of(signed_in.session, signed_in.session.id),
    )
    if transport == "bearer":
        body.token = signed_in.token
        return Response(body, headers={"Cache-Control": "no-store"})
    body.csrf_token = csrf_token(_container(state).settings().secret_key, signed_in.session.id)
    return Response(
        body, cookies=session_cookies(state, signed_in), headers={"Cache-Control": "no-store"}
    )


def _by_bearer(request: Request[Any, Any, Any]) -> bool:
    """Whether the request authenticated by bearer token (see ``auth``: it wins)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


CHECK_EMAIL = Accepted(
    "accepted",
    "If the address can receive it, an email with the next step is on its way.",
)


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]

    @post(
        "/sign-up",
        summary="Create an account; the verification link goes by email",
        status_code=202,
        opt={"kill_switch": "signups"},
        description="Answers the same whether or not the email is registered: its owner "
        "gets either a verification link or a note that the account exists.",
    )
    async def sign_up(
        self, request: Request[Any, Any, Any], state: State, data: JSONBody[SignUp], uow: Uow
    ) -> Accepted:
        await _accounts(state, uow).sign_up(
            data.email, data.password, data.name, ip=_client(request)["ip"]
        )
        return CHECK_EMAIL

    @post(
        "/verify-email", summary="Confirm an email address with the emailed token", status_code=200
    )
    async def verify_email(
        self, request: Request[Any, Any, Any], state: State, data: JSONBody[TokenIn], uow: Uow
    ) -> Me:
        accounts = _accounts(state, uow)
        return Me.of(await accounts.verify_email(data.token, ip=_client(request)["ip"]))

    @post(
        "/password/forgot",
        summary="Email a password reset link",
        status_code=202,
        description="Answers the same whether or not the email is registered.",
    )
    async def forgot_password(
        self,
        request: Request[Any, Any, Any],
        state: State,
        data: JSONBody[ForgotPassword],
        uow: Uow,
    ) -> Accepted:
        ip = _client(request)["ip"]
        await _accounts(state, uow).request_password_reset(data.email, ip=ip)
        return CHECK_EMAIL

    @post(
        "/password/reset",
        summary="Set a new password with the emailed token; ends every session",
        status_code=204,
    )
    async def reset_password(
        self,
        request: Request[Any, Any, Any],
        state: State,
        data: JSONBody[ResetPassword],
        uow: Uow,
    ) -> None:
        ip = _client(request)["ip"]
        await _accounts(state, uow).reset_password(data.token, data.password, ip=ip)
        # Whose sessions ended is known only to the use case: forget every cached one.
        cache: PrincipalCache = state.principal_cache
        cache.clear()

    @post(
        "/sign-in",
        summary="Sign in with email and password",
        status_code=200,
        description="With two-factor authentication on, the answer opens no session: it "
        "is ``{two_factor_required: true, challenge}``, for "
        "``POST /api/v1/auth/sign-in/two-factor``.",
    )
    async def sign_in(
        self, request: Request[Any, Any, Any], state: State, data: JSONBody[SignIn], uow: Uow
    ) -> Response[SignedInOut | TwoFactorChallengeOut]:
        sessions = _sessions(state, uow)
        try:
            outcome = await sessions.sign_in(data.email, data.password, **_client(request))
        except (InvalidCredentialsError, AccountBannedError) as refused:
            await sign_in_refused(request, uow, refused, email=data.email)
            raise
        if isinstance(outcome, TwoFactorRequired):
            challenge = TwoFactorChallengeOut(
                challenge=outcome.challenge, expires_at=outcome.expires_at
            )
            return Response(challenge, headers={"Cache-Control": "no-store"})
        await signed_in(request, uow, outcome, method="password")
        return _signed_in_response(state, outcome, data.transport)

    @post(
        "/sign-in/two-factor",
        summary="Finish a sign-in with an authenticator or recovery code",
        status_code=200,
    )
    async def sign_in_two_factor(
        self,
        request: Request[Any, Any, Any],
        state: State,
        data: JSONBody[TwoFactorSignIn],
        uow: Uow,
    ) -> Response[SignedInOut]:
        try:
            opened = await _two_factor(state, uow).complete_sign_in(
                data.challenge, code=data.code, recovery_code=data.recovery_code, **_client(request)
            )
        except (InvalidTwoFactorCodeError, TwoFactorChallengeError, AccountBannedError) as refused:
            await sign_in_refused(request, uow, refused, challenge=data.challenge)
            raise
        method = "recovery_code" if data.recovery_code and not data.code else "two_factor"
        await signed_in(request, uow, opened, method=method)
        return _signed_in_response(state, opened, data.transport)

    @post(
        "/sign-out",
        summary="End the current session",
        status_code=204,
        dependencies={"principal": Provide(provide_principal)},
    )
    async def sign_out(self, state: State, principal: CurrentPrincipal, uow: Uow) -> Response[None]:
        await _sessions(state, uow).sign_out(principal)
        response: Response[None] = Response(None, status_code=204)
        clear_session_cookies(response)
        return response


class MeController(Controller):
    path = "/api/v1/me"
    tags = ["me"]
    dependencies = {"principal": Provide(provide_principal)}

    @get("/", summary="The signed-in user")
    async def me(self, request: Request[Any, Any, Any], principal: CurrentPrincipal) -> Me:
        me = Me.of(principal.user)
        me.impersonated_by = impersonator_of(request)
        return me

    @patch("/", summary="Change the signed-in user's profile")
    async def update_me(
        self, state: State, principal: CurrentPrincipal, data: JSONBody[MePatch], uow: Uow
    ) -> Me:
        user = principal.user
        if data.name is not msgspec.UNSET:
            user = await _container(state).identity.service(uow=uow).rename_user(user.id, data.name)
        return Me.of(user)

    @get("/sessions", summary="My active sessions, most recently used first")
    async def sessions(
        self, state: State, principal: CurrentPrincipal, uow: Uow
    ) -> list[SessionOut]:
        found = await _sessions(state, uow).list_sessions(principal)
        return [SessionOut.of(session, principal.session.id) for session in found]

    @delete("/sessions/{session_id:str}", summary="End one of my sessions", status_code=204)
    async def revoke(
        self,
        request: Request[Any, Any, Any],
        state: State,
        principal: CurrentPrincipal,
        session_id: FromPath[str],
        uow: Uow,
    ) -> None:
        await (
            _container(state)
            .identity.sessions(session=uow.session)
            .revoke_session(principal, session_id)
        )
        ended = AuditRecord(
            action="auth.session_revoked", target_type="session", target_id=session_id
        )
        await record(request, uow, ended)

    @post("/sessions/revoke-others", summary="End all my sessions but this one", status_code=200)
    async def revoke_others(
        self, request: Request[Any, Any, Any], state: State, principal: CurrentPrincipal, uow: Uow
    ) -> Revoked:
        count = (
            await _container(state)
            .identity.sessions(session=uow.session)
            .revoke_other_sessions(principal)
        )
        ended = _about_me(principal, "auth.sessions_revoked", after={"sessions": count})
        await record(request, uow, ended)
        return Revoked(count)


class TwoFactorController(Controller):
    path = "/api/v1/me/2fa"
    tags = ["me"]
    dependencies = {"principal": Provide(provide_principal)}

    @post(
        "/enroll",
        summary="Start enrolling an authenticator app",
        status_code=200,
        description="Pending until confirmed with a code; starting again replaces it.",
    )
    async def enroll(
        self, state: State, principal: CurrentPrincipal, uow: Uow
    ) -> Response[TwoFactorEnrollmentOut]:
        enrollment = await _two_factor(state, uow).start_enrollment(principal)
        body = TwoFactorEnrollmentOut(secret=enrollment.secret, otpauth_uri=enrollment.uri)
        return Response(body, headers={"Cache-Control": "no-store"})

    @post(
        "/confirm",
        summary="Turn two-factor on with a code from the app",
        status_code=200,
        description="Answers the ten recovery codes, once. The session is replaced by a "
        "new one (new token, or new cookies).",
    )
    async def confirm(
        self,
        request: Request[Any, Any, Any],
        state: State,
        principal: CurrentPrincipal,
        data: JSONBody[TwoFactorCodeIn],
        uow: Uow,
    ) -> Response[RecoveryCodesOut]:
        client = _client(request)
        codes = await _two_factor(state, uow).confirm_enrollment(
            principal, data.code, ip=client["ip"]
        )
        signed_in = await _sessions(state, uow).rotate(principal, **client)
        await record(request, uow, _about_me(principal, "auth.two_factor_enabled"))
        body = RecoveryCodesOut(recovery_codes=codes)
        if _by_bearer(request):
            body.token = signed_in.token
            return Response(body, headers={"Cache-Control": "no-store"})
        secret_key = _container(state).settings().secret_key
        body.csrf_token = csrf_token(secret_key, signed_in.session.id)
        return Response(
            body, cookies=session_cookies(state, signed_in), headers={"Cache-Control": "no-store"}
        )

    @post("/disable", summary="Turn two-factor off (asks for the password)", status_code=204)
    async def disable(
        self,
        request: Request[Any, Any, Any],
        state: State,
        principal: CurrentPrincipal,
        data: JSONBody[PasswordIn],
        uow: Uow,
    ) -> None:
        await _two_factor(state, uow).disable(principal, data.password, ip=_client(request)["ip"])
        await record(request, uow, _about_me(principal, "auth.two_factor_disabled"))

    @post(
        "/recovery-codes",
        summary="New recovery codes (asks for the password); the old ones stop working",
        status_code=200,
    )
    async def recovery_codes(
        self,
        request: Request[Any, Any, Any],
        state: State,
        principal: CurrentPrincipal,
        data: JSONBody[PasswordIn],
        uow: Uow,
    ) -> Response[RecoveryCodesOut]:
        codes = await _two_factor(state, uow).regenerate_recovery_codes(
            principal, data.password, ip=_client(request)["ip"]
        )
        await record(request, uow, _about_me(principal, "auth.recovery_codes_regenerated"))
        return Response(
            RecoveryCodesOut(recovery_codes=codes), headers={"Cache-Control": "no-store"}
        )
