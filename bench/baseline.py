"""The bare baseline: one Litestar handler for ``GET /health/live``, nothing else.

Served by granian with the factory target ``bench.baseline:create``, exactly as the app
is served, so the ratio measures only what the app's stack adds on top of Litestar.
"""

from __future__ import annotations

import msgspec
from litestar import Litestar, get


class Liveness(msgspec.Struct):
    """The same body as the app's probe: ``{"status": "ok"}``."""

    status: str


@get("/health/live", cache=False)
async def live() -> Liveness:
    """Always up."""
    return Liveness("ok")


def create() -> Litestar:
    """A Litestar app with the single handler and no logging configuration."""
    return Litestar(route_handlers=[live], debug=False, logging_config=None)
