"""A workspace's subscription and entitlements, under ``/api/v1/workspaces/{id}/``:
``billing/checkout``, ``billing/portal``, ``billing/subscription`` (and its ``change``,
``cancel``, ``resume``), ``entitlements``.

Changing money needs ``billing:manage`` (owners, admins, billing members); reading it
``billing:read``; entitlements ``workspace:read`` (any member: front ends show what the
plan allows). POSTs that reach the payment provider honour an ``Idempotency-Key``
header: the same key gives the provider the same request, so a retried click changes
nothing twice.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Annotated
from urllib.parse import urlsplit

import msgspec
from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import HeaderParameter, JSONBody

from adapters.sql.identity.repositories.users import SqlUserRepository
from adapters.sql.uow import SqlUnitOfWork
from core.billing.entitlements import EntitlementService
from core.billing.errors import InvalidSubscriptionChangeError
from core.billing.service import BillingService
from core.identity import WorkspaceAccess
from core.kernel import ValidationError
from entrypoints.http.auth import provide_principal
from entrypoints.http.billing.schemas import (
    AccessOut,
    BillingStateOut,
    CancelIn,
    ChangeIn,
    CheckoutIn,
    CheckoutOut,
    EntitlementsOut,
    PortalIn,
    PortalOut,
    SubscriptionOut,
)
from entrypoints.http.dependencies import container_of
from entrypoints.http.identity.workspaces import provide_access, tenant_guard

Uow = NamedDependency[SqlUnitOfWork]
Access = NamedDependency[WorkspaceAccess]
READ = {"permission": "billing:read"}
MANAGE = {"permission": "billing:manage"}
CHECKOUT = {**MANAGE, "kill_switch": "checkout"}  # kill switch "checkout" turns these off
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        description="Any unique string (a UUID): a retry with the same key does nothing twice",
        max_length=200,
        required=False,
    ),
]


class ReturnUrlError(ValidationError):
    type = "billing/invalid-return-url"
    title = "The return URL is not one of the app's own addresses."


def billing_service(state: State, uow: SqlUnitOfWork) -> BillingService:
    service: BillingService = container_of(state).billing.service(uow=uow)
    return service


def entitlement_service(state: State, uow: SqlUnitOfWork) -> EntitlementService:
    service: EntitlementService = container_of(state).billing.entitlements(uow=uow)
    return service


def request_key(access: WorkspaceAccess, action: str, header: str | None) -> str:
    """The provider idempotency key of this request: the client's, scoped to the
    workspace and the action, or a fresh one."""
    return f"{access.workspace.id}:{action}:{header or secrets.token_hex(16)}"


def return_url(state: State, given: str | None, default_path: str) -> str:
    settings = container_of(state).settings()
    base = settings.effective_public_url
    if given is None:
        return base + default_path
    parts = urlsplit(given)
    origin = f"{parts.scheme}://{parts.netloc}"
    allowed = {base.rstrip("/"), *(o.rstrip("/") for o in settings.cors_origins)}
    if parts.scheme not in ("http", "https") or origin not in allowed:
        raise ReturnUrlError(
            f"{given!r} is not on {base} or an allowed origin (NINEFOLD_CORS_ORIGINS)",
            url=given,
        )
    return given


async def customer_of(access: WorkspaceAccess, uow: SqlUnitOfWork) -> tuple[str, str | None]:
    """The workspace's name and the email of whoever acts, for the provider's customer."""
    user = await SqlUserRepository(uow.session).get(access.membership.user_id)
    return access.workspace.name, user.email if user is not None else None


def invalidate(state: State, uow: SqlUnitOfWork, workspace_id: str) -> None:
    cache = container_of(state).billing.access_cache()

    async def drop() -> None:
        cache.invalidate(workspace_id)

    uow.after_commit(drop)


class BillingController(Controller):
    path = "/api/v1/workspaces"
    tags = ["billing"]
    guards = [tenant_guard]
    dependencies = {
        "principal": Provide(provide_principal),
        "access": Provide(provide_access),
    }

    @post(
        "/{workspace_id:str}/billing/checkout",
        summary="Start a hosted checkout: a subscription to a plan, or a credit pack",
        status_code=200,
        opt=CHECKOUT,
    )
    async def checkout(
        self,
        state: State,
        access: Access,
        uow: Uow,
        data: JSONBody[CheckoutIn],
        idempotency_key: IdempotencyKey = None,
    ) -> CheckoutOut:
        if (data.plan is None) == (data.product is None):
            raise InvalidSubscriptionChangeError("name either a plan (and interval) or a product")
        ws = access.workspace.id
        success = return_url(state, data.success_url, f"/workspaces/{ws}/billing?checkout=done")
        cancel = return_url(state, data.cancel_url, f"/workspaces/{ws}/billing?checkout=canceled")
        name, email = await customer_of(access, uow)
        service = billing_service(state, uow)
        # The key names what is asked for: reused for another request (another plan,
        # product or quantity), it must not answer the first request's checkout.
        asked = hashlib.sha256(msgspec.json.encode(data)).hexdigest()[:16]
        key = request_key(access, f"checkout:{asked}", idempotency_key)
        if data.plan is not None:
            session = await service.checkout(
                access.tenant,
                plan=data.plan,
                interval=data.interval,
                currency=data.currency,
                seats=data.seats or 1,
                success_url=success,
                cancel_url=cancel,
                customer_name=name,
                customer_email=email,
                idempotency_key=key,
                trial=data.trial,
            )
        else:
            assert data.product is not None
            session = await service.buy(
                access.tenant,
                product=data.product,
                quantity=data.quantity,
                currency=data.currency,
                success_url=success,
                cancel_url=cancel,
                customer_name=name,
                customer_email=email,
                idempotency_key=key,
            )
        return CheckoutOut(session.id, session.url, session.expires_at)

    @post(
        "/{workspace_id:str}/billing/portal",
        summary="A link to the provider's customer portal (payment methods, invoices)",
        status_code=200,
        opt=MANAGE,
    )
    async def portal(
        self, state: State, access: Access, uow: Uow, data: JSONBody[PortalIn]
    ) -> PortalOut:
        back = return_url(state, data.return_url, f"/workspaces/{access.workspace.id}/billing")
        name, email = await customer_of(access, uow)
        session = await billing_service(state, uow).portal(
            access.tenant, return_url=back, customer_name=name, customer_email=email
        )
        return PortalOut(session.url)

    @get(
        "/{workspace_id:str}/billing/subscription",
        summary="The workspace's subscription and the access it grants now",
        opt=READ,
    )
    async def subscription(self, state: State, access: Access, uow: Uow) -> BillingStateOut:
        service = billing_service(state, uow)
        sub = await service.subscription(access.tenant)
        return BillingStateOut(
            subscription=SubscriptionOut.of(sub) if sub is not None else None,
            access=AccessOut.of(service.access_of(sub)),
        )

    @post(
        "/{workspace_id:str}/billing/subscription/change",
        summary="Change plan: upgrades apply at once (prorated), downgrades at the period end",
        status_code=200,
        opt=CHECKOUT,
    )
    async def change(
        self,
        state: State,
        access: Access,
        uow: Uow,
        data: JSONBody[ChangeIn],
        idempotency_key: IdempotencyKey = None,
    ) -> SubscriptionOut:
        sub = await billing_service(state, uow).change_plan(
            access.tenant,
            plan=data.plan,
            interval=data.interval,
            idempotency_key=request_key(
                access, f"change:{data.plan}:{data.interval or ''}", idempotency_key
            ),
        )
        invalidate(state, uow, access.workspace.id)
        return SubscriptionOut.of(sub)

    @post(
        "/{workspace_id:str}/billing/subscription/cancel",
        summary="Cancel at the period end (default) or at once",
        status_code=200,
        opt=MANAGE,
    )
    async def cancel(
        self,
        state: State,
        access: Access,
        uow: Uow,
        data: JSONBody[CancelIn],
        idempotency_key: IdempotencyKey = None,
    ) -> SubscriptionOut:
        sub = await billing_service(state, uow).cancel(
            access.tenant,
            at_period_end=data.at_period_end,
            idempotency_key=request_key(
                access,
                "cancel:" + ("at-period-end" if data.at_period_end else "now"),
                idempotency_key,
            ),
        )
        invalidate(state, uow, access.workspace.id)
        return SubscriptionOut.of(sub)

    @post(
        "/{workspace_id:str}/billing/subscription/resume",
        summary="Withdraw a scheduled cancellation",
        status_code=200,
        opt=MANAGE,
    )
    async def resume(
        self, state: State, access: Access, uow: Uow, idempotency_key: IdempotencyKey = None
    ) -> SubscriptionOut:
        sub = await billing_service(state, uow).resume(
            access.tenant, idempotency_key=request_key(access, "resume", idempotency_key)
        )
        invalidate(state, uow, access.workspace.id)
        return SubscriptionOut.of(sub)

    @get(
        "/{workspace_id:str}/entitlements",
        summary="What the workspace may use now: plan, features, limits, meters this period",
        opt={"permission": "workspace:read"},
    )
    async def entitlements(self, state: State, access: Access, uow: Uow) -> EntitlementsOut:
        found = await entitlement_service(state, uow).entitlements(access.tenant)
        return EntitlementsOut.of(found)
