"""The SAQ job engine: ``JobStore`` on SAQ's Redis or PostgreSQL queue (``jobs``)."""

from adapters.saq.jobs import SaqJobStore, broker_kind

__all__ = ["SaqJobStore", "broker_kind"]
