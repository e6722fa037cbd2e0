"""Workflows: durable jobs, schedules, and delivering domain events to subscribers.

Public API for other systems: declare job types (``JobType``) and enqueue them with a
``JobQueue`` in your unit of work; subscribe to events through ``EventBus``.
"""

from core.workflows.admin import JobAdmin
from core.workflows.errors import (
    DuplicateJobTypeError,
    InvalidJobOptionsError,
    InvalidScheduleError,
    JobAlreadyFinishedError,
    JobNotFoundError,
    JobNotRetryableError,
    PermanentJobError,
    RetryJobLaterError,
)
from core.workflows.jobs import (
    JobContext,
    JobHandler,
    JobMetrics,
    JobQueue,
    JobRegistry,
    JobRequested,
    JobType,
    make_request,
    pending_job,
)
from core.workflows.model import (
    DEFAULT_QUEUE,
    FINISHED_STATES,
    RETRYABLE_STATES,
    Attempt,
    Job,
    JobFilter,
    JobRequest,
    JobState,
    OutboxMessage,
    Outcome,
    QueueStats,
    RetryPolicy,
    Settlement,
)
from core.workflows.notifications import WORKFLOWS_NOTIFICATIONS
from core.workflows.ports import JobStore, OutboxStore
from core.workflows.runner import JobRunner, OpenJobStore, worker_name
from core.workflows.schedules import CronEvaluator, Schedule, Scheduler, tick_key
from core.workflows.service import (
    DELIVER_EVENT,
    DeliverEvent,
    EnvelopeHandler,
    EventBus,
    EventEnvelope,
    Handler,
    OutboxRelay,
    OutboxSession,
    Subscriber,
    event_delivery_handler,
)

__all__ = [
    "DEFAULT_QUEUE",
    "DELIVER_EVENT",
    "FINISHED_STATES",
    "RETRYABLE_STATES",
    "WORKFLOWS_NOTIFICATIONS",
    "Attempt",
    "CronEvaluator",
    "DeliverEvent",
    "DuplicateJobTypeError",
    "EnvelopeHandler",
    "EventBus",
    "EventEnvelope",
    "Handler",
    "InvalidJobOptionsError",
    "InvalidScheduleError",
    "Job",
    "JobAdmin",
    "JobAlreadyFinishedError",
    "JobContext",
    "JobFilter",
    "JobHandler",
    "JobMetrics",
    "JobNotFoundError",
    "JobNotRetryableError",
    "JobQueue",
    "JobRegistry",
    "JobRequest",
    "JobRequested",
    "JobRunner",
    "JobState",
    "JobStore",
    "JobType",
    "OpenJobStore",
    "OutboxMessage",
    "OutboxRelay",
    "OutboxSession",
    "OutboxStore",
    "Outcome",
    "PermanentJobError",
    "QueueStats",
    "RetryJobLaterError",
    "RetryPolicy",
    "Schedule",
    "Scheduler",
    "Settlement",
    "Subscriber",
    "event_delivery_handler",
    "make_request",
    "pending_job",
    "tick_key",
    "worker_name",
]
