"""Workspace API keys: ``/api/v1/workspaces/{workspace_id}/api-keys``. Managing them
needs ``api_keys:manage``; a new key's secret is in the creation's answer only. Creating
and revoking one are audit log entries (``api_key.created``, ``api_key.revoked``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, Request, delete, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody

from adapters.sql.uow import SqlUnitOfWork
from core.identity import ApiKey, ApiKeyService, Permission, WorkspaceAccess
from core.safety import AuditRecord
from entrypoints.containers import ApplicationContainer
from entrypoints.http.auth import provide_principal
from entrypoints.http.identity.workspaces import provide_access, tenant_guard
from entrypoints.http.safety.acting import record as audit

Uow = NamedDependency[SqlUnitOfWork]
Access = NamedDependency[WorkspaceAccess]


class ApiKeyOut(msgspec.Struct):
    id: str
    name: str
    prefix: str
    permissions: list[str]
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyOut:
        return cls(
            id=key.id,
            name=key.name,
            prefix=key.prefix,
            permissions=sorted(p.value for p in key.permissions),
            created_by=key.created_by,
            created_at=key.created_at,
            expires_at=key.expires_at,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
        )


class NewApiKeyOut(ApiKeyOut):
    secret: str
    """Shown this once: only its hash is kept."""


class NewApiKey(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    permissions: list[Permission]
    expires_at: datetime | None = None


def _service(state: State, uow: SqlUnitOfWork) -> ApiKeyService:
    container: ApplicationContainer = state.container
    service: ApiKeyService = container.identity.api_keys(session=uow.session)
    return service


class ApiKeysController(Controller):
    path = "/api/v1/workspaces"
    tags = ["api keys"]
    guards = [tenant_guard]
    dependencies = {
        "principal": Provide(provide_principal),
        "access": Provide(provide_access),
    }

    @get(
        "/{workspace_id:str}/api-keys",
        summary="The workspace's API keys (never their secrets)",
        opt={"permission": "api_keys:manage"},
    )
    async def list_keys(self, state: State, access: Access, uow: Uow) -> list[ApiKeyOut]:
        return [ApiKeyOut.of(k) for k in await _service(state, uow).list_keys(access)]

    @post(
        "/{workspace_id:str}/api-keys",
        summary="Create an API key; its secret is shown this once",
        opt={"permission": "api_keys:manage"},
    )
    async def create(
        self,
        request: Request[Any, Any, Any],
        state: State,
        access: Access,
        data: JSONBody[NewApiKey],
        uow: Uow,
    ) -> NewApiKeyOut:
        created = await _service(state, uow).create(
            access, data.name, data.permissions, data.expires_at
        )
        key = created.key
        after = {
            "name": key.name,
            "prefix": key.prefix,
            "permissions": sorted(key.permissions),
            "expires_at": key.expires_at,
        }
        await audit(
            request,
            uow,
            AuditRecord(
                action="api_key.created", target_type="api_key", target_id=key.id, after=after
            ),
        )
        return NewApiKeyOut(
            **msgspec.structs.asdict(ApiKeyOut.of(created.key)), secret=created.secret
        )

    @delete(
        "/{workspace_id:str}/api-keys/{key_id:str}",
        summary="Revoke an API key",
        status_code=204,
        opt={"permission": "api_keys:manage"},
    )
    async def revoke(
        self,
        request: Request[Any, Any, Any],
        state: State,
        access: Access,
        key_id: FromPath[str],
        uow: Uow,
    ) -> None:
        await _service(state, uow).revoke(access, key_id)
        await audit(
            request,
            uow,
            AuditRecord(action="api_key.revoked", target_type="api_key", target_id=key_id),
        )
