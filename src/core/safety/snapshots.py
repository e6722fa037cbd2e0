"""What staff change at runtime, seen by every process within seconds.

Flags, kill switches and breaker overrides are read on hot paths, so each process keeps
them in memory as a snapshot. Every change bumps its topic's version in the shared
database in the transaction of the change (``VersionStore.bump``); each process polls
the versions (``Snapshots.refresh``, every half second by default) and reloads a topic
whose version moved. A change made through any app or worker process is therefore in
force everywhere within the poll interval plus one load, without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

logger = logging.getLogger("ninefold.safety")


class Topic(enum.StrEnum):
    FLAGS = "flags"
    KILL_SWITCHES = "kill_switches"
    BREAKERS = "breakers"


class VersionStore(Protocol):
    """The topics' versions in the shared database (in the caller's transaction)."""

    async def bump(self, topic: Topic, at: datetime) -> int:
        """Raise ``topic``'s version by one; the new version."""
        ...

    async def versions(self) -> dict[str, int]:
        """Every topic's version (0 for one never changed)."""
        ...


Loader = Callable[[], Awaitable[Any]]


class Snapshots:
    """Each topic's latest snapshot in this process, with the version it was loaded at.

    ``read_versions`` reads the shared versions; ``loaders[topic]`` loads a topic's
    snapshot. ``get`` never waits: it answers the snapshot in hand (``refresh`` must
    have run once, which ``start`` makes sure of)."""

    def __init__(
        self,
        read_versions: Callable[[], Awaitable[Mapping[str, int]]],
        loaders: Mapping[Topic, Loader] | None = None,
    ) -> None:
        self._read_versions = read_versions
        self._loaders: dict[Topic, Loader] = dict(loaders or {})
        self._values: dict[Topic, Any] = {}
        self._versions: dict[Topic, int] = {}
        self._lock = asyncio.Lock()

    def register(self, topic: Topic, loader: Loader) -> None:
        self._loaders[topic] = loader
        self._versions.pop(topic, None)

    def has(self, topic: Topic) -> bool:
        return topic in self._values

    def get(self, topic: Topic) -> Any:
        if topic not in self._values:
            raise LookupError(f"no {topic} snapshot loaded yet: call refresh() first")
        return self._values[topic]

    def version(self, topic: Topic) -> int | None:
        return self._versions.get(topic)

    async def refresh(self, *, force: bool = False) -> set[Topic]:
        """Reload the topics whose version changed (all with ``force``); which ones."""
        async with self._lock:
            shared = await self._read_versions()
            reloaded: set[Topic] = set()
            for topic, load in self._loaders.items():
                version = shared.get(topic.value, 0)
                if not force and self._versions.get(topic) == version:
                    continue
                self._values[topic] = await load()
                self._versions[topic] = version
                reloaded.add(topic)
            return reloaded

    async def run_forever(self, stop: asyncio.Event, interval: float = 0.5) -> None:
        """Refresh every ``interval`` seconds until ``stop`` is set; a failing refresh is
        logged and tried again (the last snapshots stay in force meanwhile)."""
        while not stop.is_set():
            try:
                await self.refresh()
            except Exception:
                logger.warning("safety snapshots not refreshed; retrying", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
