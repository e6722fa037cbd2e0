"""The in-memory ``PaymentProvider`` (the sandbox over dictionaries) passes the port's
conformance suite; then the sandbox processor's own behaviour, as the clock moves."""

from __future__ import annotations

import pytest

from adapters.memory.payments import InMemoryPaymentProvider
from adapters.sandbox import SandboxUsage
from adapters.sandbox.harness import SandboxHarness
from contracts.ports.payment_provider import PaymentHarness, PaymentProviderContract
from core.kernel import FixedClock


def _harness() -> SandboxHarness:
    clock = FixedClock()
    provider = InMemoryPaymentProvider(clock=clock)

    def usage_total(customer_id: str, meter: str) -> int:
        return sum(
            usage.quantity
            for usage in provider.store.records[SandboxUsage].values()
            if isinstance(usage, SandboxUsage)
            and usage.customer_id == customer_id
            and usage.meter == meter
        )

    return SandboxHarness(provider, clock, usage_total)


class TestInMemoryPaymentProvider(PaymentProviderContract):
    @pytest.fixture
    def payments(self) -> PaymentHarness:
        return _harness()
