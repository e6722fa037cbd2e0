"""Waiting on several things at once, for the relay, the runner and the scheduler."""

from __future__ import annotations

import asyncio


async def first_of(*events: asyncio.Event, at_most: float) -> None:
    """Wait until any of ``events`` is set, or ``at_most`` seconds."""
    waiters = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=at_most, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
