"""The demo seed: a platform superadmin and a demo user with a workspace.

Passwords are generated and printed once; nothing fixed, nothing stored in clear.
"""

from __future__ import annotations

import secrets

from core.identity import StaffRole
from entrypoints.containers import ApplicationContainer

SUPERADMIN_EMAIL = "admin@example.com"
DEMO_EMAIL = "demo@example.com"


def generate_password() -> str:
    return secrets.token_urlsafe(15)


async def seed_demo(container: ApplicationContainer) -> int:
    async with container.unit_of_work() as uow:
        identity = container.identity.service(uow=uow)
        if await identity.user_count() > 0:
            print("demo already seeded: nothing changed (its credentials were printed then)")
            return 0
        admin_password, demo_password = generate_password(), generate_password()
        await identity.register_user(
            SUPERADMIN_EMAIL, "Platform Admin", admin_password, staff_role=StaffRole.SUPERADMIN
        )
        demo = await identity.register_user(DEMO_EMAIL, "Demo User", demo_password)
        workspace = await identity.create_workspace(demo.id, "Demo workspace")
        await uow.commit()
    print("demo seeded; these passwords are shown only now:")
    print(f"  superadmin  {SUPERADMIN_EMAIL}  {admin_password}")
    print(f"  demo user   {DEMO_EMAIL}  {demo_password}  (owner of {workspace.id})")
    return 0
