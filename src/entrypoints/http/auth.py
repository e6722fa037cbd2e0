"""Who a request acts as: session cookie or bearer token, and CSRF for cookies.

Browsers get the session token in an HttpOnly cookie and must echo a CSRF token (derived
from the session, never stored) in ``X-CSRF-Token`` on unsafe methods. API clients send
``Authorization: Bearer <token>`` and need no CSRF token: a bearer token is never sent
by a browser on its own. A request that carries both is judged by its bearer token.

A bearer token that is a workspace API key (``nf_key_...``) is never a user: routes for
signed-in users answer 401 to it, and only the workspace routes accept it (see
``authenticate_api_key`` and ``tenant_guard``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, State

from core.identity import (
    ApiKeyPrincipal,
    ApiKeyService,
    CsrfError,
    Principal,
    SessionService,
    SignedIn,
    UnauthenticatedError,
    hash_token,
    is_api_key,
)
from entrypoints.containers import ApplicationContainer
from entrypoints.http.principal_cache import PrincipalCache
from entrypoints.http.safety.acting import stamp
from entrypoints.logging import add_log_context

logger = logging.getLogger("ninefold.auth")

SESSION_COOKIE = "nf_session"
CSRF_COOKIE = "nf_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def csrf_token(secret_key: str, session_id: str) -> str:
    """The CSRF token of a session: an HMAC of its id, so nothing is stored and a token
    from another session (or a logged-out one) never matches."""
    digest = hmac.new(secret_key.encode(), f"csrf:{session_id}".encode(), hashlib.sha256)
    return digest.hexdigest()


def _credentials(request: ASGIConnection[Any, Any, Any, Any]) -> tuple[str, str] | None:
    authorization = request.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return "bearer", token.strip()
    cookie = request.cookies.get(SESSION_COOKIE)
    return ("cookie", cookie) if cookie else None


async def authenticate(request: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    """The request's principal (cached on the request), checking CSRF for cookies."""
    if "principal" in request.scope["state"]:
        cached: Principal | None = request.scope["state"]["principal"]
        return cached
    container: ApplicationContainer = request.app.state.container
    principal = None
    credentials = _credentials(request)
    if credentials is not None and not (credentials[0] == "bearer" and is_api_key(credentials[1])):
        via, token = credentials
        cache = principal_cache(request)
        safe = request.scope.get("method") in SAFE_METHODS
        token_hash = hash_token(token)
        if not safe:
            cache.forget(token_hash)
        principal = cache.get(token_hash) if safe else None
        now = container.kernel.clock().now()
        if principal is not None and not principal.session.is_active(now):
            cache.forget(token_hash)
            principal = None
        if principal is None:
            async with container.database.read_session_factory()() as session:
                service: SessionService = container.identity.sessions(session=session)
                principal = await service.authenticate(token)
            if principal is not None and safe:
                cache.put(token_hash, principal)
        if principal is not None:
            if not safe:
                # This request may change the user or their sessions: let no cached copy
                # outlive it in this process.
                cache.forget_user(principal.user.id)
            if via == "cookie" and not safe:
                _check_csrf(request, container.settings().secret_key, principal)
            if principal.session.needs_touch(now, container.identity.session_policy()):
                cache.forget(token_hash)
                await _touch(container, principal)
            add_log_context(user_id=principal.user.id, session_id=principal.session.id)
    request.scope["state"]["principal"] = principal
    if principal is not None:
        stamp(request)
    return principal


def principal_cache(request: ASGIConnection[Any, Any, Any, Any]) -> PrincipalCache:
    cache: PrincipalCache = request.app.state.principal_cache
    return cache


async def authenticate_api_key(
    request: ASGIConnection[Any, Any, Any, Any],
) -> ApiKeyPrincipal | None:
    """The API key the request's bearer token is (cached on the request), or None: no
    bearer token, not an API key, or an unknown, expired or revoked one."""
    if "api_key_principal" in request.scope["state"]:
        cached: ApiKeyPrincipal | None = request.scope["state"]["api_key_principal"]
        return cached
    principal = None
    credentials = _credentials(request)
    if credentials is not None and credentials[0] == "bearer" and is_api_key(credentials[1]):
        container: ApplicationContainer = request.app.state.container
        async with container.database.read_session_factory()() as session:
            service: ApiKeyService = container.identity.api_keys(session=session)
            principal = await service.authenticate(credentials[1])
        if principal is not None:
            if service.needs_touch(principal):
                await _touch_api_key(container, principal)
            add_log_context(api_key_id=principal.key.id)
    request.scope["state"]["api_key_principal"] = principal
    if principal is not None:
        stamp(request)
    return principal


def bears_api_key(request: ASGIConnection[Any, Any, Any, Any]) -> bool:
    """Whether the request's bearer token is shaped like an API key (valid or not)."""
    credentials = _credentials(request)
    return credentials is not None and credentials[0] == "bearer" and is_api_key(credentials[1])


async def _touch_api_key(container: ApplicationContainer, principal: ApiKeyPrincipal) -> None:
    """Record the key's use, at most every few minutes. Best effort, like ``_touch``."""
    try:
        async with container.unit_of_work() as uow:
            await container.identity.api_keys(session=uow.session).touch(principal)
            await uow.commit()
    except Exception:
        logger.warning("could not record use of API key %s", principal.key.id, exc_info=True)


def _check_csrf(
    request: ASGIConnection[Any, Any, Any, Any], secret_key: str, principal: Principal
) -> None:
    sent = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(sent, csrf_token(secret_key, principal.session.id)):
        raise CsrfError(f"send the {CSRF_COOKIE} cookie's value in the X-CSRF-Token header")


async def _touch(container: ApplicationContainer, principal: Principal) -> None:
    """Record use, at most every few minutes per session. Best effort: a failure here
    must not fail the request."""
    try:
        async with container.unit_of_work() as uow:
            await container.identity.sessions(session=uow.session).touch(principal)
            await uow.commit()
    except Exception:
        logger.warning("could not record use of session %s", principal.session.id, exc_info=True)


async def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    """Dependency for routes that need a signed-in user: 401 problem otherwise."""
    principal = await authenticate(request)
    if principal is None:
        raise UnauthenticatedError(headers={"WWW-Authenticate": 'Bearer realm="ninefold"'})
    return principal


def session_cookies(state: State, signed_in: SignedIn) -> list[Cookie]:
    container: ApplicationContainer = state.container
    settings = container.settings()
    secure = settings.env != "development"
    max_age = int((signed_in.session.expires_at - signed_in.session.created_at).total_seconds())
    return [
        Cookie(
            key=SESSION_COOKIE,
            value=signed_in.token,
            httponly=True,
            secure=secure,
            samesite="lax",
            path="/",
            max_age=max_age,
        ),
        Cookie(
            key=CSRF_COOKIE,
            value=csrf_token(settings.secret_key, signed_in.session.id),
            httponly=False,  # the page's script reads it and echoes it in X-CSRF-Token
            secure=secure,
            samesite="lax",
            path="/",
            max_age=max_age,
        ),
    ]


def clear_session_cookies(response: Response[Any]) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
