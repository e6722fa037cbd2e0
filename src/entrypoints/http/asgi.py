"""The ASGI target granian serves: ``entrypoints.http.asgi:create`` (a factory)."""

from __future__ import annotations

from litestar import Litestar

from entrypoints.containers import build_container
from entrypoints.http.app import create_app
from entrypoints.logging import configure_logging
from entrypoints.settings import ensure_secret_key, load_settings


def create() -> Litestar:

    settings = ensure_secret_key(load_settings())
    configure_logging(settings)
    return create_app(build_container(settings))
