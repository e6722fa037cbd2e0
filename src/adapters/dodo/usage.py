"""Our usage records as Dodo usage events (``POST /events/ingest``).

One record is one Dodo event:

- ``event_id`` = the record's ``idempotency_key``: Dodo ignores an ``event_id`` it has
  already ingested, so a record sent again (a retried job) is counted once. Dodo refuses
  a whole request that repeats an ``event_id``, so a batch is deduplicated first (the
  first record of a key wins);
- ``event_name`` = our meter's key (``api_calls``), ``customer_id`` = the Dodo customer;
- ``metadata.quantity`` = the quantity (a number), plus ``subscription_id`` when known.

How a Dodo meter must be configured to bill this: event name = our meter key,
aggregation ``sum`` over the key ``quantity`` (a ``count`` meter would count records,
not units), and the meter attached to the plan's usage-based product (Dodo bills usage
only on ``usage_based_price`` products; ``sync_prices`` creates flat recurring products,
so attach meters in Dodo's dashboard or give those plans usage-based products).

Dodo takes at most 1,000 events a request: larger batches go in several requests, in
order; a failure stops at that request (the earlier ones are ingested, and sending the
whole batch again is safe because of ``event_id``).

Time: Dodo refuses (the whole request) an event whose ``timestamp`` is more than one
hour old or more than five minutes ahead of its clock. A record within
[now - 55 min, now + 4 min] (our clock; five and one minutes of margin for clock skew and
time in flight) is sent with its own ``timestamp``. One outside that window is sent
without a ``timestamp`` (Dodo stamps it on arrival) and with its own instant in
``metadata.occurred_at``: the usage is billed, at the time it reaches Dodo, which can be
in the next billing period for a record reported late. Dropping it would lose billable
usage; refusing it would make a delayed job fail forever.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from core.billing.payments import UsageRecord

MAX_EVENTS_PER_CALL: Final = 1_000
MAX_AGE: Final = timedelta(hours=1) - timedelta(minutes=5)
MAX_AHEAD: Final = timedelta(minutes=5) - timedelta(minutes=1)


def usage_events(records: Sequence[UsageRecord], *, now: datetime) -> list[dict[str, Any]]:
    """The Dodo events of ``records``, one per idempotency key, in order."""
    seen: set[str] = set()
    events: list[dict[str, Any]] = []
    for record in records:
        if record.idempotency_key in seen:
            continue
        seen.add(record.idempotency_key)
        metadata: dict[str, str | float | bool] = {"quantity": record.quantity}
        if record.provider_subscription_id:
            metadata["subscription_id"] = record.provider_subscription_id
        event: dict[str, Any] = {
            "event_id": record.idempotency_key,
            "customer_id": record.customer_id,
            "event_name": record.meter,
            "metadata": metadata,
        }
        at = record.timestamp.astimezone(UTC)
        if now - MAX_AGE <= at <= now + MAX_AHEAD:
            event["timestamp"] = at
        else:
            metadata["occurred_at"] = at.isoformat()
        events.append(event)
    return events


def batches(events: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """``events`` in slices of at most ``MAX_EVENTS_PER_CALL``."""
    for start in range(0, len(events), MAX_EVENTS_PER_CALL):
        yield events[start : start + MAX_EVENTS_PER_CALL]
