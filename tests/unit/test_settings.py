from pathlib import Path

import pytest

from entrypoints.settings import (
    ConfigurationError,
    effective_configuration,
    ensure_secret_key,
    load_settings,
)

STRONG = "k3J9-vQ2x_Lm8Rt5-Yp1Wz7Hc4Nb6Df0Gs2Aa9Ee"


def test_defaults_run_the_embedded_stack_in_development(tmp_path: Path) -> None:
    settings = load_settings({}, env_file=None)

    assert settings.env == "development"
    assert settings.effective_database_url == "sqlite+aiosqlite:///var/ninefold.db"
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.payments_provider == "sandbox"


def test_variables_are_typed_and_converted() -> None:
    settings = load_settings(
        {
            "NINEFOLD_PORT": "8123",
            "NINEFOLD_RUN_WORKER": "false",
            "NINEFOLD_CORS_ORIGINS": "https://a.example, https://b.example",
            "NINEFOLD_DATA_DIR": "/srv/nf",
        },
        env_file=None,
    )

    assert settings.port == 8123
    assert settings.run_worker is False
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.effective_database_url == "sqlite+aiosqlite:////srv/nf/ninefold.db"


def test_a_dotenv_file_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("NINEFOLD_PORT=9001\nNINEFOLD_HOST=0.0.0.0\n")

    settings = load_settings({"NINEFOLD_PORT": "9002"}, env_file=env_file)

    assert settings.port == 9002
    assert settings.host == "0.0.0.0"


def test_the_env_file_can_be_named_by_a_variable(tmp_path: Path) -> None:
    env_file = tmp_path / "custom.env"
    env_file.write_text("NINEFOLD_PORT=9100\n")

    assert load_settings({"NINEFOLD_ENV_FILE": str(env_file)}).port == 9100


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(
            {
                "NINEFOLD_PORT": "not-a-port",
                "NINEFOLD_ENV": "production",
                "NINEFOLD_EMAIL_PROVIDER": "resend",
                "NINEFOLD_TYPO": "1",
            },
            env_file=None,
        )

    message = str(caught.value)
    assert "NINEFOLD_PORT=not-a-port: expected a whole number" in message
    assert "NINEFOLD_TYPO is not a known setting" in message
    assert "NINEFOLD_EMAIL_PROVIDER=resend needs NINEFOLD_RESEND_API_KEY" in message
    assert "NINEFOLD_SECRET_KEY is required in production" in message
    assert "NINEFOLD_ALLOWED_HOSTS must name the app's hosts" in message
    assert len(caught.value.problems) >= 5


def test_an_unknown_choice_names_the_valid_ones() -> None:
    with pytest.raises(ConfigurationError, match="expected one of 'development', 'test'"):
        load_settings({"NINEFOLD_ENV": "staging"}, env_file=None)


@pytest.mark.parametrize(
    "secret", ["changeme", "short", "a" * 40, "abcabcabcabcabcabcabcabcabcabcabcabc"]
)
def test_production_refuses_weak_secrets(secret: str) -> None:
    environ = {
        "NINEFOLD_ENV": "production",
        "NINEFOLD_SECRET_KEY": secret,
        "NINEFOLD_ALLOWED_HOSTS": "app.example.com",
    }
    with pytest.raises(ConfigurationError, match="SECRET_KEY is weak"):
        load_settings(environ, env_file=None)


def test_production_starts_with_a_strong_secret_named_hosts_and_an_https_address() -> None:
    settings = load_settings(
        {
            "NINEFOLD_ENV": "production",
            "NINEFOLD_SECRET_KEY": STRONG,
            "NINEFOLD_ALLOWED_HOSTS": "app.example.com",
            "NINEFOLD_PUBLIC_URL": "https://app.example.com",
            "NINEFOLD_DATABASE_URL": "postgresql://app@db/app",
        },
        env_file=None,
    )

    assert settings.is_production


def test_a_provider_without_an_adapter_in_this_build_is_reported() -> None:
    with pytest.raises(ConfigurationError, match="no adapter for it in this build yet"):
        load_settings(
            {"NINEFOLD_ERROR_TRACKING": "sentry", "NINEFOLD_SENTRY_DSN": "http://k@h/1"},
            env_file=None,
        )


def test_the_effective_configuration_masks_secrets() -> None:
    settings = load_settings(
        {
            "NINEFOLD_SECRET_KEY": STRONG,
            "NINEFOLD_DATABASE_URL": "postgresql://app:hunter2@db.internal/app",
        },
        env_file=None,
    )

    shown = effective_configuration(settings)

    assert STRONG not in "".join(shown.values())
    assert "hunter2" not in shown["NINEFOLD_DATABASE_URL"]
    assert shown["NINEFOLD_SECRET_KEY"].startswith("k3****")
    assert shown["NINEFOLD_PORT"] == "8000"


def test_a_development_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    settings = load_settings({"NINEFOLD_DATA_DIR": str(tmp_path)}, env_file=None)

    first = ensure_secret_key(settings)
    second = ensure_secret_key(settings)

    assert len(first.secret_key) >= 32
    assert first.secret_key == second.secret_key
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_the_test_harness_variables_are_not_app_settings() -> None:
    settings = load_settings(
        {"NINEFOLD_TEST_POSTGRES_URL": "postgresql://postgres@127.0.0.1/postgres"}, env_file=None
    )

    assert settings.env == "development"


def test_every_url_setting_hides_its_password() -> None:
    settings = load_settings({"NINEFOLD_REDIS_URL": "redis://:s3cr3t@cache:6379/0"}, env_file=None)

    assert "s3cr3t" not in effective_configuration(settings)["NINEFOLD_REDIS_URL"]


def test_production_needs_the_public_https_address_for_links() -> None:
    with pytest.raises(ConfigurationError, match="NINEFOLD_PUBLIC_URL must be the app's https"):
        load_settings(
            {"NINEFOLD_ENV": "production", "NINEFOLD_PUBLIC_URL": "http://app.example.com"},
            env_file=None,
        )


def test_links_default_to_the_served_address() -> None:
    settings = load_settings({"NINEFOLD_PORT": "8123"}, env_file=None)

    assert settings.effective_public_url == "http://127.0.0.1:8123"


def test_trusted_proxies_must_be_addresses_or_networks() -> None:
    with pytest.raises(ConfigurationError, match=r"'proxy\.internal' is not an address or network"):
        load_settings({"NINEFOLD_TRUSTED_PROXIES": "10.0.0.0/8,proxy.internal"}, env_file=None)


def test_a_plan_catalog_that_does_not_load_stops_the_start(tmp_path: Path) -> None:
    plans = tmp_path / "plans.toml"
    plans.write_text('version = 1\nfallback = "free"\n')
    with pytest.raises(ConfigurationError, match=r"NINEFOLD_BILLING_PLANS_FILE.*plans: missing"):
        load_settings({"NINEFOLD_BILLING_PLANS_FILE": str(plans)}, env_file=None)


def test_a_default_currency_the_catalog_does_not_price_stops_the_start() -> None:
    with pytest.raises(ConfigurationError, match="prices nothing in it"):
        load_settings({"NINEFOLD_BILLING_DEFAULT_CURRENCY": "JPY"}, env_file=None)
