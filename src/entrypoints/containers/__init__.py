"""The composition root: one dependency-injector container per system, plus the
application container that joins them and picks each port's adapter from settings.

Litestar owns request scope (the unit of work, later the current user); the containers
own configuration, singletons and the object graph. Tests override providers:
``container.identity.password_hasher.override(providers.Object(fake))``.
"""

from entrypoints.containers.application import (
    ApplicationContainer,
    build_container,
    close_container,
)
from entrypoints.containers.notifications import NotificationsContainer

__all__ = ["ApplicationContainer", "NotificationsContainer", "build_container", "close_container"]
