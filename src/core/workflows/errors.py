"""Errors of the workflows system."""

from __future__ import annotations

from core.kernel import ConflictError, DomainError, NotFoundError, ValidationError


class InvalidJobOptionsError(ValidationError):
    type = "invalid-job-options"
    title = "The job's options are not valid."


class DuplicateJobTypeError(ValueError):
    """Two handlers for one job type: a programming error, raised at start-up."""


class JobNotFoundError(NotFoundError):
    type = "job-not-found"
    title = "There is no such job."


class JobNotRetryableError(ConflictError):
    type = "job-not-retryable"
    title = "Only dead or cancelled jobs can be retried."


class JobAlreadyFinishedError(ConflictError):
    type = "job-already-finished"
    title = "The job has finished; there is nothing to cancel."


class InvalidScheduleError(DomainError):
    type = "invalid-schedule"
    status = 422
    title = "The schedule is not valid."


class PermanentJobError(Exception):
    """Raised by a handler when retrying cannot help (the input can never work): the job
    is dead-lettered at once with this message, its remaining attempts unused."""
