"""Webhook settings: private URLs are for development and tests only; limits are checked."""

from __future__ import annotations

import pytest

from entrypoints.settings import ConfigurationError, Settings, load_settings
from entrypoints.webhooks import policy_from_settings

PRODUCTION = {
    "NINEFOLD_ENV": "production",
    "NINEFOLD_SECRET_KEY": "k" * 20 + "abcdefghijklmnop",
    "NINEFOLD_PUBLIC_URL": "https://app.example.com",
    "NINEFOLD_ALLOWED_HOSTS": "app.example.com",
}


@pytest.mark.parametrize(
    ("env", "allowed"), [("development", True), ("test", True), ("production", False)]
)
def test_private_urls_are_allowed_by_default_outside_production_only(
    env: str, allowed: bool
) -> None:
    settings = Settings(env=env)  # type: ignore[arg-type]

    assert settings.webhooks_private_urls_allowed is allowed
    assert policy_from_settings(settings).allow_private_urls is allowed


def test_the_setting_can_turn_private_urls_off_in_development() -> None:
    settings = load_settings({"NINEFOLD_WEBHOOKS_ALLOW_PRIVATE_URLS": "false"}, env_file=None)

    assert settings.webhooks_private_urls_allowed is False


def test_production_refuses_private_webhook_urls() -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_settings({**PRODUCTION, "NINEFOLD_WEBHOOKS_ALLOW_PRIVATE_URLS": "true"}, env_file=None)

    assert "NINEFOLD_WEBHOOKS_ALLOW_PRIVATE_URLS must be off in production" in str(raised.value)


def test_webhook_limits_are_checked() -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_settings(
            {
                "NINEFOLD_WEBHOOKS_MAX_ENDPOINTS": "0",
                "NINEFOLD_WEBHOOKS_TIMEOUT_SECONDS": "600",
                "NINEFOLD_WEBHOOKS_DELIVERY_RETENTION_DAYS": "0",
            },
            env_file=None,
        )

    problems = raised.value.problems
    assert any("NINEFOLD_WEBHOOKS_MAX_ENDPOINTS" in p for p in problems)
    assert any("NINEFOLD_WEBHOOKS_TIMEOUT_SECONDS" in p for p in problems)
    assert any("NINEFOLD_WEBHOOKS_DELIVERY_RETENTION_DAYS" in p for p in problems)
