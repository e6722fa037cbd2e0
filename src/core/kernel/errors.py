"""The base of every domain error: a stable problem type, a status and a title.

Core stays framework-free: the HTTP adapter maps these to RFC 9457 problem details,
the CLI to exit codes. ``type`` is stable API: clients branch on it.
"""

from __future__ import annotations

from typing import Any, ClassVar

PROBLEM_BASE = "https://ninefold.dev/problems/"


class DomainError(Exception):
    """An expected failure of a use case, described for the caller."""

    type: ClassVar[str] = "domain-error"
    status: ClassVar[int] = 400
    title: ClassVar[str] = "The request could not be carried out."

    def __init__(
        self, detail: str | None = None, *, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.headers = headers
        self.extra = extra

    @classmethod
    def type_uri(cls) -> str:
        return PROBLEM_BASE + cls.type


class NotFoundError(DomainError):
    type = "not-found"
    status = 404
    title = "The resource does not exist."


class ConflictError(DomainError):
    type = "conflict"
    status = 409
    title = "The request conflicts with the current state."


class ValidationError(DomainError):
    type = "validation-error"
    status = 422
    title = "The input is not valid."


class PermissionDeniedError(DomainError):
    type = "permission-denied"
    status = 403
    title = "You are not allowed to do this."


class MissingTenantError(DomainError):
    """A tenant-scoped operation was called without a tenant context."""

    type = "missing-tenant"
    status = 500
    title = "A tenant-scoped operation ran without a workspace."
