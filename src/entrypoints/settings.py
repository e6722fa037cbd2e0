"""Typed settings from ``NINEFOLD_*`` environment variables and an optional ``.env``.

Every field below is one variable: ``database_url`` is ``NINEFOLD_DATABASE_URL``. The
environment wins over ``.env``. ``load_settings`` collects every problem before it fails,
so one start-up names all that is wrong at once.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import msgspec
from dotenv import dotenv_values

PREFIX = "NINEFOLD_"
# Variables the test harness reads (NINEFOLD_TEST_POSTGRES_URL, ...); not app settings.
RESERVED_PREFIXES = ("NINEFOLD_TEST_", "NINEFOLD_ENV_FILE")
Environment = Literal["development", "test", "production"]
MIN_SECRET_LENGTH = 32
WEAK_SECRETS = frozenset({"changeme", "secret", "password", "development", "test", "ninefold"})

# For each selectable provider: the settings it cannot run without. Providers listed in
QUEUE_NAME = re.compile(r"[a-z][a-z0-9_-]{0,39}")

# AVAILABLE_PROVIDERS have an adapter in this build; the others are reserved names whose
# adapters arrive with their systems, and selecting one is reported as a problem.
PROVIDER_KEYS: dict[tuple[str, str], tuple[str, ...]] = {
    ("payments_provider", "stripe"): ("stripe_secret_key", "stripe_webhook_secret"),
    ("payments_provider", "dodo"): ("dodo_api_key", "dodo_webhook_secret"),
    ("email_provider", "resend"): ("resend_api_key", "resend_webhook_secret"),
    ("media_provider", "imagekit"): ("imagekit_private_key", "imagekit_url_endpoint"),
    ("analytics_provider", "posthog"): ("posthog_api_key", "posthog_host"),
    ("error_tracking", "sentry"): ("sentry_dsn",),
    ("jobs_backend", "saq"): ("saq_url",),
    ("rate_limit_storage", "redis"): ("redis_url",),
}
AVAILABLE_PROVIDERS: dict[str, frozenset[str]] = {
    "payments_provider": frozenset({"sandbox", "stripe", "dodo"}),
    "email_provider": frozenset({"outbox", "resend"}),
    "media_provider": frozenset({"local"}),
    "analytics_provider": frozenset({"local"}),
    "error_tracking": frozenset({"log"}),
    "jobs_backend": frozenset({"sql", "saq"}),
    "rate_limit_storage": frozenset({"memory", "redis"}),
}
# SAQ's brokers: Redis or PostgreSQL (psycopg's plain URL, no "+driver").
SAQ_SCHEMES = ("redis", "rediss", "postgresql", "postgres")
SECRET_SUFFIXES = ("_key", "_secret", "_dsn", "_password", "_token")


class Settings(msgspec.Struct, kw_only=True, frozen=True):
    """The application's configuration. See docs/configuration.md for each variable."""

    env: Environment = "development"
    data_dir: str = "var"
    database_url: str = ""  # empty: SQLite file ninefold.db in data_dir
    database_pool_size: int = 10
    public_url: str = ""  # the app's address in links sent by email; empty: http://HOST:PORT
    host: str = "127.0.0.1"
    port: int = 8000
    http_workers: int = 1
    run_worker: bool = True
    secret_key: str = ""  # empty outside production: generated once into data_dir
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"
    max_body_bytes: int = 2 * 1024 * 1024
    allowed_hosts: list[str] = msgspec.field(default_factory=lambda: ["*"])
    cors_origins: list[str] = msgspec.field(default_factory=list)
    # Reverse proxies whose X-Forwarded-For is believed (addresses or CIDR networks).
    trusted_proxies: list[str] = msgspec.field(default_factory=list)
    password_hasher: Literal["argon2", "fast-insecure"] = "argon2"
    session_idle_hours: int = 24 * 7
    session_absolute_days: int = 30
    session_cache_seconds: float = 2.0
    staff_require_2fa: bool = False  # production requires it whatever this says
    impersonation_max_minutes: int = 60  # at most 60: an hour is the ceiling

    payments_provider: Literal["sandbox", "stripe", "dodo"] = "sandbox"
    stripe_secret_key: str = ""
    stripe_webhook_secret: str = ""
    dodo_api_key: str = ""
    dodo_webhook_secret: str = ""
    # Empty: the provider's API; tests point them at the local stand-ins.
    stripe_base_url: str = ""
    dodo_base_url: str = ""
    # Days a workspace keeps its plan's access after a payment fails (dunning runs
    # meanwhile); then it falls to the free plan until the payment recovers.
    billing_grace_days: int = 7
    # The currency of checkouts that name none.
    billing_default_currency: str = "USD"
    # How old a usage event may be when it arrives (older ones are rejected).
    billing_usage_lateness_hours: int = 24
    # The plan catalog (docs/systems/billing.md, "Catalog"); empty: the packaged plans.toml.
    billing_plans_file: str = ""
    email_provider: Literal["outbox", "resend"] = "outbox"
    resend_api_key: str = ""
    resend_webhook_secret: str = ""
    resend_base_url: str = ""  # empty: Resend's API; tests point it at the local stand-in
    email_from: str = "Ninefold <no-reply@example.com>"  # the From of every email sent
    app_name: str = "Ninefold"  # the product's name in messages
    # The live stream of in-app notifications: how long one connection lasts (browsers
    # reconnect) and how often each process looks for new notifications while one is open.
    notifications_stream_seconds: float = 300.0
    notifications_stream_poll_seconds: float = 1.0
    # Outbox messages, deliveries, provider reports and read in-app notifications older
    # than this are deleted (unread ones, suppressions and preferences are kept).
    notifications_retention_days: int = 90
    media_provider: Literal["local", "imagekit"] = "local"
    imagekit_private_key: str = ""
    imagekit_url_endpoint: str = ""
    analytics_provider: Literal["local", "posthog"] = "local"
    posthog_api_key: str = ""
    posthog_host: str = ""
    error_tracking: Literal["log", "sentry"] = "log"
    sentry_dsn: str = ""
    rate_limit_storage: Literal["memory", "redis"] = "memory"
    jobs_backend: Literal["sql", "saq"] = "sql"
    saq_url: str = ""  # SAQ's broker, with jobs_backend=saq: redis://… or postgresql://…
    saq_prefix: str = "ninefold"  # SAQ queue names are <prefix>.<queue>; one per deployment
    redis_url: str = ""
    # The worker: how many jobs run at once per process, and which queues it takes
    # (comma-separated; empty for all). Finished jobs are kept for the retention days.
    worker_concurrency: int = 8
    worker_queues: str = ""
    jobs_retention_days: int = 7
    jobs_dead_retention_days: int = 30
    # How long a running job's lease lasts; a heartbeat renews it every third of it.
    # A worker that dies leaves its jobs to others once the lease has passed.
    jobs_lease_seconds: float = 30.0
    # Queues whose jobs may run only so many at once across every worker, e.g.
    # "webhooks=8,events=16". Jobs with a concurrency key of their own are not counted.
    jobs_queue_limits: str = ""
    # Outbound webhooks (docs/systems/workflows.md). Private URLs (http, private
    # and loopback addresses): empty means allowed in development and test only.
    webhooks_allow_private_urls: bool | None = None
    webhooks_max_endpoints: int = 20
    webhooks_timeout_seconds: float = 10.0
    webhooks_disable_after_days: int = 5
    webhooks_delivery_retention_days: int = 30
    # Data export and deletion (docs/systems/safety/data.md): how long an export's
    # download link works, and how long a deleted account can still be restored.
    data_export_link_hours: int = 24
    account_deletion_grace_days: int = 30

    @property
    def templates_strict(self) -> bool:
        """Whether a notification template using a variable its data lacks fails the
        send (everywhere but production, where it renders empty and logs a warning)."""
        return self.env != "production"

    @property
    def queue_limits(self) -> dict[str, int]:
        """``jobs_queue_limits`` read: queue name → at most that many running. Entries
        that do not parse are left out here and reported by the validation."""
        limits = {}
        for entry in self.jobs_queue_limits.split(","):
            name, _, limit = entry.strip().partition("=")
            if QUEUE_NAME.fullmatch(name.strip()) and limit.strip().isdigit():
                limits[name.strip()] = int(limit)
        return limits

    @property
    def queues(self) -> tuple[str, ...] | None:
        """The queues this process's worker takes; ``None`` for all of them."""
        names = tuple(q.strip() for q in self.worker_queues.split(",") if q.strip())
        return names or None

    @property
    def webhooks_private_urls_allowed(self) -> bool:
        if self.webhooks_allow_private_urls is None:
            return self.env in ("development", "test")
        return self.webhooks_allow_private_urls

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_path / 'ninefold.db').as_posix()}"

    @property
    def effective_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def staff_need_2fa(self) -> bool:
        """Whether staff need two-factor authentication on for ``/api/v1/admin``."""
        return self.is_production or self.staff_require_2fa

    @property
    def console_logs(self) -> bool:
        if self.log_format == "auto":
            return self.env == "development"
        return self.log_format == "console"


class ConfigurationError(Exception):
    """The configuration cannot start the app; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"ninefold cannot start: the configuration has problems:\n{lines}")


def env_name(field: str) -> str:
    return PREFIX + field.upper()


def _raw_values(environ: Mapping[str, str], env_file: Path | None) -> dict[str, str]:
    raw: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        raw.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    raw.update(environ)
    return {
        key[len(PREFIX) :].lower(): value
        for key, value in raw.items()
        if key.startswith(PREFIX) and not key.startswith(RESERVED_PREFIXES)
    }


def _is_list(annotation: Any) -> bool:
    return get_origin(annotation) is list


def load_settings(
    environ: Mapping[str, str] | None = None, env_file: Path | str | None = ".env"
) -> Settings:
    """Read, convert and check the settings; raise ``ConfigurationError`` listing all
    problems."""
    environ = os.environ if environ is None else environ
    if "NINEFOLD_ENV_FILE" in environ:
        env_file = environ["NINEFOLD_ENV_FILE"]
    raw = _raw_values(environ, Path(env_file) if env_file else None)
    fields = {field.name: field for field in msgspec.structs.fields(Settings)}
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name, text in sorted(raw.items()):
        field = fields.get(name)
        if field is None:
            problems.append(f"{env_name(name)} is not a known setting")
            continue
        value: Any = text
        if _is_list(field.type):
            value = [item.strip() for item in text.split(",") if item.strip()]
        try:
            values[name] = msgspec.convert(value, type=field.type, strict=False)
        except msgspec.ValidationError as exc:
            problems.append(f"{env_name(name)}={_shown(name, text)!s}: {_explain(field.type, exc)}")
    settings = Settings(**values)
    from entrypoints.settings_checks import check_settings

    problems.extend(check_settings(settings))
    if problems:
        raise ConfigurationError(problems)
    return settings


def _explain(annotation: Any, exc: msgspec.ValidationError) -> str:
    choices = get_args(annotation)
    if get_origin(annotation) is Literal:
        return "expected one of " + ", ".join(repr(c) for c in choices)
    if annotation is int:
        return "expected a whole number"
    if annotation is bool:
        return "expected true or false"
    return str(exc)


def is_secret(name: str) -> bool:
    return name.endswith(SECRET_SUFFIXES)


def _shown(name: str, value: str) -> str:
    return mask(value) if is_secret(name) else value


def mask(value: str) -> str:
    if not value:
        return ""
    return "****" if len(value) < 12 else value[:2] + "****" + value[-2:]


def _mask_url(url: str) -> str:
    from sqlalchemy.engine import make_url  # here, not at the top: keeps the CLI quick to start

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "****"


def effective_configuration(settings: Settings) -> dict[str, str]:
    """Every setting as ``NINEFOLD_X -> value``, secrets masked."""
    shown: dict[str, str] = {}
    for field in msgspec.structs.fields(Settings):
        value = getattr(settings, field.name)
        if field.name == "database_url":
            text = _mask_url(settings.effective_database_url)
        elif field.name.endswith("_url") and value:
            text = _mask_url(value)
        elif isinstance(value, list):
            text = ",".join(value)
        elif isinstance(value, bool):
            text = str(value).lower()
        else:
            text = str(value)
        shown[env_name(field.name)] = mask(text) if is_secret(field.name) else text
    return shown


def ensure_secret_key(settings: Settings) -> Settings:
    """Outside production, an empty secret key is generated once and kept in
    ``data_dir/secret_key``, so restarts keep signed values valid."""
    if settings.secret_key or settings.is_production:
        return settings
    path = settings.data_path / "secret_key"
    if path.is_file():
        secret = path.read_text().strip()
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secret + "\n")
    return msgspec.structs.replace(settings, secret_key=secret)
