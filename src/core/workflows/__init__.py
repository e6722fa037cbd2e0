"""Workflows: delivering domain events to subscribers (durable jobs come next).

Public API for other systems: subscribe to events through ``EventBus``.
"""

from core.workflows.model import OutboxMessage
from core.workflows.ports import OutboxStore
from core.workflows.service import EventBus, Handler, OutboxRelay, OutboxSession

__all__ = [
    "EventBus",
    "Handler",
    "OutboxMessage",
    "OutboxRelay",
    "OutboxSession",
    "OutboxStore",
]
