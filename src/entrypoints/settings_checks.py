"""What stops a start: ``check_settings`` lists every problem of a ``Settings`` at once
(ranges, URLs, queue limits, missing provider keys, providers without an adapter in this
build, a plan catalog that does not load, and production's stricter rules).
``load_settings`` runs it after converting the variables."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from entrypoints.settings import (
    AVAILABLE_PROVIDERS,
    MIN_SECRET_LENGTH,
    PROVIDER_KEYS,
    QUEUE_NAME,
    SAQ_SCHEMES,
    WEAK_SECRETS,
    Settings,
    env_name,
)


def _jobs_problems(settings: Settings) -> list[str]:
    """The worker's and the job engines' settings."""
    problems: list[str] = []
    for entry in filter(None, (e.strip() for e in settings.jobs_queue_limits.split(","))):
        name, _, limit = entry.partition("=")
        if not QUEUE_NAME.fullmatch(name.strip()) or not limit.strip().isdigit() or not int(limit):
            problems.append(
                f"{env_name('jobs_queue_limits')}: {entry!r} is not <queue>=<limit> "
                "(a queue name of lowercase letters, digits, '-' or '_', and a limit >= 1)"
            )
    if not 1 <= settings.jobs_lease_seconds <= 3600:
        problems.append(f"{env_name('jobs_lease_seconds')} must be between 1 and 3600")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_:-]{0,63}", settings.saq_prefix):
        problems.append(
            f"{env_name('saq_prefix')} must be 1-64 letters, digits, '_', ':' or '-', "
            "starting with a letter or digit"
        )
    saq_scheme = urlsplit(settings.saq_url).scheme.lower()
    if settings.saq_url and saq_scheme not in SAQ_SCHEMES:
        problems.append(
            f"{env_name('saq_url')} must start with redis://, rediss://, postgresql:// or "
            f"postgres:// (SAQ's broker is Redis or PostgreSQL), not {saq_scheme or '?'}://"
        )
    for base_url in ("stripe_base_url", "dodo_base_url", "resend_base_url"):
        if getattr(settings, base_url) and urlsplit(getattr(settings, base_url)).scheme not in (
            "http",
            "https",
        ):
            problems.append(f"{env_name(base_url)} must be an http:// or https:// URL")
    if settings.billing_grace_days < 0 or settings.billing_usage_lateness_hours < 1:
        problems.append(
            f"{env_name('billing_grace_days')} must be 0 or more and "
            f"{env_name('billing_usage_lateness_hours')} 1 or more"
        )
    if "@" not in settings.email_from:
        problems.append(f"{env_name('email_from')} must be an address, as Name <a@example.com>")
    if settings.worker_concurrency < 1:
        problems.append(f"{env_name('worker_concurrency')} must be at least 1")
    if settings.jobs_retention_days < 1 or settings.jobs_dead_retention_days < 1:
        problems.append(
            f"{env_name('jobs_retention_days')} and {env_name('jobs_dead_retention_days')} "
            "must be at least 1"
        )
    return problems


def _value_problems(settings: Settings) -> list[str]:
    """Values out of their range or form."""
    problems: list[str] = []
    if not 0 < settings.port < 65536:
        problems.append(f"{env_name('port')} must be between 1 and 65535")
    if settings.http_workers < 1:
        problems.append(f"{env_name('http_workers')} must be at least 1")
    problems.extend(_jobs_problems(settings))
    if settings.session_idle_hours < 1 or settings.session_absolute_days < 1:
        problems.append(
            f"{env_name('session_idle_hours')} and {env_name('session_absolute_days')} "
            "must be at least 1"
        )
    if not 0 <= settings.session_cache_seconds <= 60:
        problems.append(f"{env_name('session_cache_seconds')} must be between 0 and 60")
    if not 1 <= settings.impersonation_max_minutes <= 60:
        problems.append(f"{env_name('impersonation_max_minutes')} must be between 1 and 60")
    for proxy in settings.trusted_proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            problems.append(
                f"{env_name('trusted_proxies')}: {proxy!r} is not an address or network"
            )
    problems.extend(_webhook_problems(settings))
    if settings.max_body_bytes < 1024:
        problems.append(f"{env_name('max_body_bytes')} must be at least 1024")
    return problems


def _webhook_problems(settings: Settings) -> list[str]:
    problems = []
    if settings.webhooks_max_endpoints < 1 or settings.webhooks_disable_after_days < 1:
        problems.append(
            f"{env_name('webhooks_max_endpoints')} and "
            f"{env_name('webhooks_disable_after_days')} must be at least 1"
        )
    if not 1 <= settings.webhooks_timeout_seconds <= 60:
        problems.append(f"{env_name('webhooks_timeout_seconds')} must be between 1 and 60")
    if settings.webhooks_delivery_retention_days < 1:
        problems.append(f"{env_name('webhooks_delivery_retention_days')} must be at least 1")
    if settings.notifications_retention_days < 1:
        problems.append(f"{env_name('notifications_retention_days')} must be at least 1")
    if settings.data_export_link_hours < 1 or settings.account_deletion_grace_days < 0:
        problems.append(
            f"{env_name('data_export_link_hours')} must be at least 1 and "
            f"{env_name('account_deletion_grace_days')} 0 or more"
        )
    return problems


def check_settings(settings: Settings) -> list[str]:
    """Everything that stops a start: ranges, missing provider keys, weak secrets."""
    problems = _value_problems(settings)
    for (selector, provider), keys in PROVIDER_KEYS.items():
        if getattr(settings, selector) != provider:
            continue
        missing = [env_name(key) for key in keys if not getattr(settings, key)]
        if missing:
            problems.append(f"{env_name(selector)}={provider} needs {', '.join(missing)}")
    for selector, available in AVAILABLE_PROVIDERS.items():
        chosen = getattr(settings, selector)
        if chosen not in available:
            problems.append(
                f"{env_name(selector)}={chosen}: no adapter for it in this build yet "
                f"(available: {', '.join(sorted(available))})"
            )
    problems.extend(_catalog_problems(settings))
    if settings.is_production:
        problems.extend(_production_problems(settings))
    return problems


def _catalog_problems(settings: Settings) -> list[str]:
    """A plan catalog that does not load stops the start, naming the file and the key."""
    from core.billing import CatalogError, load_catalog

    try:
        catalog = load_catalog(settings.billing_plans_file or None)
    except (CatalogError, OSError) as error:
        where = settings.billing_plans_file or "the packaged plans.toml"
        return [f"{env_name('billing_plans_file')}: {where} is not a valid catalog: {error}"]
    currency = settings.billing_default_currency.upper()
    if currency not in catalog.public_currencies():
        return [
            f"{env_name('billing_default_currency')}={settings.billing_default_currency}: "
            f"the catalog prices nothing in it (it has {', '.join(catalog.public_currencies())})"
        ]
    return []


def _production_problems(settings: Settings) -> list[str]:
    problems = []
    secret = settings.secret_key
    if not secret:
        problems.append(f"{env_name('secret_key')} is required in production")
    elif len(secret) < MIN_SECRET_LENGTH or secret.lower() in WEAK_SECRETS or len(set(secret)) < 8:
        problems.append(
            f"{env_name('secret_key')} is weak: use at least {MIN_SECRET_LENGTH} random "
            "characters (e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))')"
        )
    if settings.webhooks_allow_private_urls:
        problems.append(
            f"{env_name('webhooks_allow_private_urls')} must be off in production "
            "(it lets customers' webhooks reach private networks)"
        )
    if settings.password_hasher != "argon2":
        problems.append(f"{env_name('password_hasher')} must be argon2 in production")
    if not settings.public_url.startswith("https://"):
        problems.append(
            f"{env_name('public_url')} must be the app's https:// address in production "
            "(it goes into links sent by email)"
        )
    if "*" in settings.allowed_hosts:
        problems.append(f"{env_name('allowed_hosts')} must name the app's hosts in production")
    return problems
