"""Every error as RFC 9457 ``application/problem+json`` with a stable ``type``.

Litestar's ProblemDetailsPlugin is thin and, for converted HTTP exceptions, puts the
message in ``title`` and the status phrase in ``detail`` (backwards); these handlers
are as short and put each field where the RFC says.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, SerializationException, ValidationException
from litestar.types import ExceptionHandlersMap

from core.kernel import DomainError
from core.kernel.errors import PROBLEM_BASE

logger = logging.getLogger("ninefold.http")

PROBLEM_JSON = "application/problem+json"

# Stable types for the HTTP-level failures every route can produce.
HTTP_TYPES = {
    400: "bad-request",
    401: "unauthenticated",
    403: "permission-denied",
    404: "not-found",
    405: "method-not-allowed",
    413: "payload-too-large",
    415: "unsupported-media-type",
    429: "rate-limited",
    500: "internal-error",
    503: "unavailable",
}


def problem(
    request: Request[Any, Any, Any],
    status: int,
    type_: str,
    title: str,
    *,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": type_ if type_.startswith(("http", "about:")) else PROBLEM_BASE + type_,
        "title": title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    body["instance"] = request.url.path
    request_id = request.scope.get("state", {}).get("request_id")
    if request_id:
        body["request_id"] = request_id
    body.update({k: v for k, v in (extra or {}).items() if k not in body})
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def domain_error_handler(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    return problem(
        request,
        exc.status,
        exc.type,
        exc.title,
        detail=exc.detail,
        headers=exc.headers,
        extra=exc.extra,
    )


def validation_handler(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    """The body or parameters decoded but do not fit the schema: say which fields."""
    return problem(
        request,
        400,
        "invalid-request",
        "The request does not match the API's schema.",
        detail="Fix the fields listed in 'errors' and send the request again.",
        extra={"errors": exc.extra if isinstance(exc.extra, list) else []},
    )


def http_exception_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    if isinstance(exc.__cause__, SerializationException):
        # Litestar re-raises a body that does not decode as a bare 400 ClientException.
        return problem(
            request,
            400,
            "malformed-body",
            "The request body could not be decoded.",
            detail=f"Send valid JSON: {exc.detail}",
        )
    type_ = HTTP_TYPES.get(status, "about:blank")
    detail = exc.detail if exc.detail and exc.detail != _phrase(status) else None
    if status == 413:
        detail = "The request body is larger than this server accepts."
    return problem(request, status, type_, _phrase(status), detail=detail, headers=exc.headers)


def make_unhandled_handler(show_details: bool) -> Any:
    def unhandled_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        detail = f"{type(exc).__name__}: {exc}" if show_details else None
        return problem(
            request, 500, "internal-error", "Something went wrong on our side.", detail=detail
        )

    return unhandled_handler


def exception_handlers(show_details: bool) -> ExceptionHandlersMap:
    return {
        DomainError: domain_error_handler,
        ValidationException: validation_handler,
        HTTPException: http_exception_handler,
        Exception: make_unhandled_handler(show_details),
    }


__all__ = ["PROBLEM_JSON", "exception_handlers", "problem"]
