"""The in-memory job engine passes the job engine conformance suite."""

from __future__ import annotations

import pytest

from adapters.memory.jobs import InMemoryJobStore
from contracts.ports.jobs import JobEngineContract
from core.kernel import FixedClock
from entrypoints.testing.jobs import OutboxCarriedJobEngine


class TestInMemoryJobEngine(JobEngineContract):
    @pytest.fixture
    def job_engine(self, clock: FixedClock) -> OutboxCarriedJobEngine:
        return OutboxCarriedJobEngine(InMemoryJobStore(), clock)
