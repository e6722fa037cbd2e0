"""Workspace API keys: a secret shown once, stored only as a hash with a visible prefix,
scoped to permissions (never more than its creator's own), optionally expiring,
revocable, with the time of its last use. A key acts for its workspace only."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from core.identity.errors import ApiKeyNotFoundError, WorkspaceNotFoundError
from core.identity.model import ApiKey, ApiKeyPrincipal, Membership, WorkspaceRole
from core.identity.permissions import Permission
from core.identity.ports import ApiKeyRepository, WorkspaceRepository
from core.identity.tokens import hash_token, new_token
from core.identity.workspaces import WorkspaceAccess
from core.kernel import Clock, IdGenerator, PermissionDeniedError, TenantContext, ValidationError

API_KEY_TOKEN_PREFIX = "nf_key"
API_KEY_VISIBLE_CHARS = len(API_KEY_TOKEN_PREFIX) + 7  # "nf_key_" and 6 random characters
API_KEY_NAME_MAX_LENGTH = 100
API_KEY_TOUCH_EVERY = timedelta(minutes=5)


def is_api_key(token: str) -> bool:
    return token.startswith(API_KEY_TOKEN_PREFIX + "_")


class ApiKeyCreated:
    """A new key and its secret: the only time the secret is seen."""

    def __init__(self, key: ApiKey, secret: str) -> None:
        self.key = key
        self.secret = secret


def _permissions(raw: Iterable[Permission | str]) -> frozenset[Permission]:
    try:
        permissions = frozenset(Permission(p) for p in raw)
    except ValueError as error:
        raise ValidationError(str(error), field="permissions") from error
    if not permissions:
        raise ValidationError("give the key at least one permission", field="permissions")
    return permissions


class ApiKeyService:
    def __init__(
        self,
        *,
        keys: ApiKeyRepository,
        clock: Clock,
        ids: IdGenerator,
        touch_every: timedelta = API_KEY_TOUCH_EVERY,
    ) -> None:
        self._keys = keys
        self._clock = clock
        self._ids = ids
        self._touch_every = touch_every

    async def create(
        self,
        access: WorkspaceAccess,
        name: str,
        permissions: Iterable[Permission | str],
        expires_at: datetime | None = None,
    ) -> ApiKeyCreated:
        """A new key with ``permissions``, none of which the creator lacks."""
        access.require(Permission.API_KEYS_MANAGE)
        now = self._clock.now()
        name = name.strip()
        if not 1 <= len(name) <= API_KEY_NAME_MAX_LENGTH:
            raise ValidationError(
                f"a key name has 1 to {API_KEY_NAME_MAX_LENGTH} characters", field="name"
            )
        wanted = _permissions(permissions)
        beyond = sorted(wanted - access.permissions)
        if beyond:
            raise PermissionDeniedError(
                "a key cannot have a permission you lack: " + ", ".join(beyond),
                permission=beyond[0].value,
            )
        if expires_at is not None and expires_at <= now:
            raise ValidationError("the expiry must be in the future", field="expires_at")
        secret = new_token(API_KEY_TOKEN_PREFIX)
        key = ApiKey(
            id=self._ids.new("key", now),
            workspace_id=access.workspace.id,
            name=name,
            prefix=secret[:API_KEY_VISIBLE_CHARS],
            secret_hash=hash_token(secret),
            permissions=wanted,
            created_by=access.membership.user_id,
            created_at=now,
            expires_at=expires_at,
        )
        await self._keys.add(key)
        return ApiKeyCreated(key, secret)

    async def list_keys(self, access: WorkspaceAccess) -> Sequence[ApiKey]:
        """The workspace's keys in any state, oldest first; never their secrets."""
        access.require(Permission.API_KEYS_MANAGE)
        return await self._keys.list_keys(access.tenant)

    async def revoke(self, access: WorkspaceAccess, key_id: str) -> None:
        access.require(Permission.API_KEYS_MANAGE)
        if not await self._keys.revoke(access.tenant, key_id, self._clock.now()):
            raise ApiKeyNotFoundError()

    async def authenticate(self, secret: str) -> ApiKeyPrincipal | None:
        """The key a secret stands for, or None if it is unknown, expired or revoked.
        Read-only: see ``touch``."""
        if not is_api_key(secret):
            return None
        key = await self._keys.find_by_secret_hash(hash_token(secret))
        if key is None or not key.is_active(self._clock.now()):
            return None
        return ApiKeyPrincipal(key=key)

    def needs_touch(self, principal: ApiKeyPrincipal) -> bool:
        return principal.key.needs_touch(self._clock.now(), self._touch_every)

    async def touch(self, principal: ApiKeyPrincipal) -> None:
        """Record use (at most every ``touch_every``, as ``needs_touch`` tells)."""
        await self._keys.touch(principal.key.id, self._clock.now())


async def api_key_access(
    workspaces: WorkspaceRepository,
    principal: ApiKeyPrincipal,
    workspace_id: str,
    permission: Permission | None,
) -> WorkspaceAccess:
    """An API key's access to its own live workspace: 404 for any other workspace (or a
    deleted one), 403 when the key lacks ``permission`` or the route declares none (such
    routes are for signed-in users only). The access acts as the key (its id is the
    actor), with the key's permissions instead of a role's."""
    key = principal.key
    if workspace_id != key.workspace_id:
        raise WorkspaceNotFoundError()
    workspace = await workspaces.get(TenantContext(workspace_id, actor_id=key.id))
    if workspace is None:
        raise WorkspaceNotFoundError()
    membership = Membership(
        workspace_id=workspace_id,
        user_id=key.id,
        role=WorkspaceRole.VIEWER,  # unused for permissions; the least of the roles
        created_at=key.created_at,
    )
    access = WorkspaceAccess(workspace, membership, permissions=key.permissions)
    if permission is None:
        raise PermissionDeniedError("an API key cannot use this route")
    access.require(permission)
    return access
