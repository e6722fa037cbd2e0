"""The shared kernel every system builds on: ids, time, money, errors, events, tenancy,
and the unit of work."""

from core.kernel.clock import Clock, FixedClock, SystemClock
from core.kernel.errors import (
    ConflictError,
    DomainError,
    MissingTenantError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from core.kernel.events import DomainEvent, decode_event, encode_event
from core.kernel.ids import IdGenerator, is_valid_id
from core.kernel.money import CurrencyMismatchError, Money
from core.kernel.ratelimit import (
    Rate,
    RateDecision,
    RateLimitedError,
    RateLimiter,
    RateLimiterUnavailableError,
    enforce,
)
from core.kernel.tenancy import TenantContext
from core.kernel.uow import AfterCommit, UnitOfWork

__all__ = [
    "AfterCommit",
    "Clock",
    "ConflictError",
    "CurrencyMismatchError",
    "DomainError",
    "DomainEvent",
    "FixedClock",
    "IdGenerator",
    "MissingTenantError",
    "Money",
    "NotFoundError",
    "PermissionDeniedError",
    "Rate",
    "RateDecision",
    "RateLimitedError",
    "RateLimiter",
    "RateLimiterUnavailableError",
    "SystemClock",
    "TenantContext",
    "UnitOfWork",
    "ValidationError",
    "decode_event",
    "encode_event",
    "enforce",
    "is_valid_id",
]
