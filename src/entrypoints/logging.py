"""structlog: JSON lines in production, readable lines in development.

Every line carries the context bound for the current request or job (``request_id``
now; ``user_id``, ``workspace_id`` and ``session_id`` once identity binds them) through
``structlog.contextvars``. Standard-library loggers (SQLAlchemy, granian, core's
``logging`` calls) go through the same renderer.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from entrypoints.settings import Settings

SECRET_KEYS = frozenset({"password", "secret", "token", "authorization", "cookie", "api_key"})


def _drop_secrets(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for key in list(event_dict):
        if key.lower() in SECRET_KEYS:
            event_dict[key] = "****"
    return event_dict


def configure_logging(settings: Settings) -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _drop_secrets,
    ]
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
        if settings.console_logs
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
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
