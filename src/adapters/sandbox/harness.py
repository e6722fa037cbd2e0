"""``SandboxHarness``: the sandbox as the ``PaymentHarness`` of the conformance suite
(``contracts/ports/payment_provider.py``), for the in-memory fake and the SQL store.

It collects every delivered webhook with its sink (each action waits until the
provider's background delivery has settled), moves the ``FixedClock`` a day before a
forced renewal or failure (so the new period ends after the old one, as it would when
time passes), and plays the customer and the back office through the provider's own
commands. Call ``settle()`` when a test ends, so no delivery outlives it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import msgspec

from adapters.sandbox.provider import SandboxPaymentProvider
from core.billing.payments import CheckoutSession
from core.kernel import FixedClock

Delivery = tuple[dict[str, str], bytes]
TIME_BEFORE_A_FORCED_CHARGE = timedelta(days=1)


class SandboxHarness:
    def __init__(
        self,
        provider: SandboxPaymentProvider,
        clock: FixedClock,
        usage_total: Callable[[str, str], int],
    ) -> None:
        self._provider = provider
        self._clock = clock
        self._usage_total = usage_total
        self.delivered: list[Delivery] = []
        self._read = 0
        provider.set_webhook_sink(self._take)

    async def _take(self, headers: dict[str, str], body: bytes) -> None:
        self.delivered.append((headers, body))

    @property
    def provider(self) -> SandboxPaymentProvider:
        return self._provider

    @property
    def now(self) -> datetime:
        return self._clock.now()

    async def settle(self) -> None:
        await self._provider.settle()

    async def pay(self, session: CheckoutSession) -> None:
        await self._provider.pay(session.id)
        await self.settle()

    async def decline(self, session: CheckoutSession) -> None:
        await self._provider.decline(session.id)
        await self.settle()

    async def fail_payment(self, provider_subscription_id: str) -> None:
        self._clock.advance(TIME_BEFORE_A_FORCED_CHARGE)
        await self._provider.fail_payment(provider_subscription_id)
        await self.settle()

    async def recover_payment(self, provider_subscription_id: str) -> None:
        await self._provider.recover_payment(provider_subscription_id)
        await self.settle()

    async def renew(self, provider_subscription_id: str) -> None:
        self._clock.advance(TIME_BEFORE_A_FORCED_CHARGE)
        await self._provider.set_card(provider_subscription_id, works=True)
        await self._provider.renew(provider_subscription_id)
        await self.settle()

    def webhooks(self) -> list[Delivery]:
        fresh, self._read = self.delivered[self._read :], len(self.delivered)
        return fresh

    def sign(self, body: bytes, *, at: datetime, event_id: str = "evt_contract") -> dict[str, str]:
        return self._provider.sign(body, event_id=event_id, at=at)

    def unknown_event(self) -> bytes:
        return msgspec.json.encode(
            {
                "id": "evt_unknown_type",
                "type": "sandbox.test_event",
                "created": self.now,
                "livemode": False,
                "data": {"object": "test", "workspace_id": "ws_contract"},
            }
        )

    def usage_total(self, customer_id: str, meter: str) -> int:
        return self._usage_total(customer_id, meter)

    def fail_next(self, status: int) -> None:
        self._provider.fail_next(status)
