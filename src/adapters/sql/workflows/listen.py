"""Waking workers when a job is enqueued in another process (PostgreSQL only).

The SQL engine's ``add`` sends ``NOTIFY ninefold_jobs`` in the enqueueing
transaction; PostgreSQL delivers it at commit to every listening connection. Each
worker keeps one such connection and sets its runner's wake-up event, so a job
enqueued by any app process starts at once rather than at the next poll. Polling stays
as the safety net: a lost connection only makes wake-ups late, never lost jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from adapters.sql.workflows.jobs import NOTIFY_CHANNEL

logger = logging.getLogger(__name__)

RECONNECT_MAX_SECONDS = 30.0


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def listen_for_jobs(url: str, wake: asyncio.Event, stop: asyncio.Event) -> None:
    """Set ``wake`` on every job notification until ``stop`` is set; reconnects with a
    growing pause when the connection drops."""
    pause = 1.0
    while not stop.is_set():
        connection: Any = None
        try:
            connection = await asyncpg.connect(_dsn(url))
            await connection.add_listener(NOTIFY_CHANNEL, lambda *_args: wake.set())
            pause = 1.0
            wake.set()  # anything enqueued while we were not listening
            while not stop.is_set() and not connection.is_closed():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=5)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.warning("job notifications unavailable (%r); retrying in %.0fs", exc, pause)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=pause)
            pause = min(pause * 2, RECONNECT_MAX_SECONDS)
        finally:
            if connection is not None:
                with contextlib.suppress(Exception):
                    await connection.close(timeout=2)
