"""Errors of the workflows system."""

from __future__ import annotations

from datetime import timedelta

from core.kernel import ConflictError, DomainError, NotFoundError, ValidationError


class InvalidJobOptionsError(ValidationError):
    type = "workflows/invalid-job-options"
    title = "The job's options are not valid."


class DuplicateJobTypeError(ValueError):
    """Two handlers for one job type: a programming error, raised at start-up."""


class JobNotFoundError(NotFoundError):
    type = "workflows/job-not-found"
    title = "There is no such job."


class JobNotRetryableError(ConflictError):
    type = "workflows/job-not-retryable"
    title = "Only dead or cancelled jobs can be retried."


class JobAlreadyFinishedError(ConflictError):
    type = "workflows/job-already-finished"
    title = "The job has finished; there is nothing to cancel."


class InvalidScheduleError(DomainError):
    type = "workflows/invalid-schedule"
    status = 422
    title = "The schedule is not valid."


class PermanentJobError(Exception):
    """Raised by a handler when retrying cannot help (the input can never work): the job
    is dead-lettered at once with this message, its remaining attempts unused."""


class RetryJobLaterError(Exception):
    """Raised by a handler that knows when trying again makes sense (a server's
    ``Retry-After``): the attempt fails as any other, and the next one waits at least
    ``delay`` (longer when the job's retry policy says so)."""

    def __init__(self, message: str, *, delay: timedelta) -> None:
        super().__init__(message)
        self.delay = delay
