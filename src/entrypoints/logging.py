"""structlog: JSON lines in production, readable lines in development.

Every line carries the context of the current request or job: ``request_id`` now;
``user_id``, ``workspace_id`` and ``session_id`` once identity adds them with
``add_log_context``. Standard-library loggers (SQLAlchemy, granian, core's ``logging``
calls) go through the same renderer.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from contextvars import ContextVar, Token
from types import MappingProxyType
from typing import Any

import structlog

from entrypoints.settings import Settings

# One context variable holding a small immutable mapping: setting it once per request
# costs a fraction of structlog's bound_contextvars (one ContextVar per key, set and
# reset through a generator), which matters on the request hot path.
_log_context: ContextVar[Mapping[str, str]] = ContextVar(
    "ninefold_log_context", default=MappingProxyType({})
)


def set_log_context(**values: str) -> Token[Mapping[str, str]]:
    """Start a fresh context (per request or job); ``reset_log_context`` ends it."""
    return _log_context.set(MappingProxyType(values))


def add_log_context(**values: str) -> None:
    """Add fields to the current context (e.g. the user, once authenticated)."""
    _log_context.set(MappingProxyType({**_log_context.get(), **values}))


def reset_log_context(token: Token[Mapping[str, str]]) -> None:
    _log_context.reset(token)


def _merge_log_context(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for key, value in _log_context.get().items():
        event_dict.setdefault(key, value)
    return event_dict


SECRET_KEYS = frozenset({"password", "secret", "token", "authorization", "cookie", "api_key"})


def _drop_secrets(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for key in list(event_dict):
        if key.lower() in SECRET_KEYS:
            event_dict[key] = "****"
    return event_dict


def configure_logging(settings: Settings) -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        _merge_log_context,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _drop_secrets,
    ]
    renderer: Any = (
        # Plain tracebacks: the default (rich) one prints every frame's locals, which is
        # slow and would put secrets held in variables on the console.
        structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
        if settings.console_logs
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        # Drop a line below the level before any other work is done on it.
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *([] if settings.console_logs else [structlog.processors.format_exc_info]),
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    for noisy in ("sqlalchemy.engine", "aiosqlite", "asyncio", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def granian_log_config(settings: Settings) -> dict[str, Any]:
    """Route granian's own logger through the root handler configured above, so the
    server's lines have the same format (JSON in production) as the app's."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {},
        "handlers": {},
        "loggers": {
            "_granian": {"handlers": [], "propagate": True, "level": settings.log_level.upper()}
        },
    }
