"""``ninefold notifications types`` and ``ninefold notifications preview``: the declared
types, and their templates rendered with sample data (no database, nothing sent)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.billing.notifications import BILLING_NOTIFICATIONS
from core.identity.notifications import IDENTITY_NOTIFICATIONS
from core.safety.data_notifications import DATA_NOTIFICATIONS
from core.workflows.notifications import WORKFLOWS_NOTIFICATIONS
from entrypoints.cli.main import main
from entrypoints.cli.notifications import CHANNELS, notification_catalog

EXIT_USAGE = 2
EVERY_TYPE = (
    *IDENTITY_NOTIFICATIONS,
    *WORKFLOWS_NOTIFICATIONS,
    *BILLING_NOTIFICATIONS,
    *DATA_NOTIFICATIONS,
)


@dataclass
class Run:
    code: int
    out: str
    err: str


Ninefold = Callable[..., Run]


@pytest.fixture
def ninefold(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> Ninefold:
    """``ninefold(*argv)`` runs the CLI with no ``NINEFOLD_*`` setting of the test run's
    own, in ``tmp_path``, and returns its exit code and output."""
    for name in list(os.environ):
        if name.startswith("NINEFOLD_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NINEFOLD_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("NINEFOLD_APP_NAME", "Acme Cloud")
    monkeypatch.setenv("NINEFOLD_PUBLIC_URL", "https://acme.example.com")

    def run(*argv: str) -> Run:
        capsys.readouterr()
        try:
            code = main(list(argv))
        except SystemExit as exit_:  # argparse exits on --help and on usage errors
            code = int(exit_.code or 0)
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


def test_the_catalog_holds_every_type_the_systems_declare() -> None:
    assert notification_catalog().all() == tuple(sorted(EVERY_TYPE, key=lambda t: t.name))


def test_the_channel_choices_are_the_channels() -> None:
    from core.notifications import Channel

    assert tuple(c.value for c in Channel) == CHANNELS


def test_types_lists_every_type_with_its_category_channels_and_opt_out(
    ninefold: Ninefold,
) -> None:
    run = ninefold("notifications", "types")

    assert run.code == 0
    lines = run.out.splitlines()
    assert lines[0].split() == ["TYPE", "CATEGORY", "CHANNELS", "DEFAULT", "CHANNELS", "OPT-OUT"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert set(rows) == {t.name for t in EVERY_TYPE}
    assert rows["billing.credits_low"] == ["usage", "email,in_app", "email,in_app", "yes"]
    assert rows["workflows.webhook_endpoint_disabled"] == [
        "integrations",
        "email,in_app",
        "email",
        "no",
    ]


def test_preview_prints_each_channel_of_a_type_rendered_with_its_sample(
    ninefold: Ninefold,
) -> None:
    run = ninefold("notifications", "preview", "billing.credits_low")

    assert run.code == 0, run.err
    out = run.out
    assert "===== billing.credits_low · email · locale default =====" in out
    assert "===== billing.credits_low · in_app · locale default =====" in out
    for section in ("subject", "text", "html", "title", "link"):
        assert f"----- {section} -----" in out
    assert "Analytical Engines is running low on credits" in out
    assert "Hello Ada Lovelace," in out
    assert "Acme Cloud · https://acme.example.com" in out  # the settings' name and address
    # people may opt out of it, so the preview shows an unsubscribe link
    assert "Stop these emails: https://acme.example.com/api/v1/notifications/unsubscribe" in out


def test_preview_of_a_type_nobody_may_opt_out_of_has_no_unsubscribe_link(
    ninefold: Ninefold,
) -> None:
    run = ninefold("notifications", "preview", "identity.reset_password")

    assert run.code == 0, run.err
    assert "unsubscribe" not in run.out.lower()
    assert "within 1 hour:" in run.out


def test_preview_renders_one_channel_in_a_locale_with_data_over_the_sample(
    ninefold: Ninefold,
) -> None:
    run = ninefold(
        "notifications",
        "preview",
        "identity.verify_email",
        "--channel",
        "email",
        "--locale",
        "fr-CA",
        "--data",
        '{"name": "Grace", "hours": 1}',
    )

    assert run.code == 0, run.err
    assert "===== identity.verify_email · email · locale fr-CA =====" in run.out
    assert "Confirmez votre adresse e-mail" in run.out
    assert "Bonjour Grace," in run.out
    assert "dans un délai de 1 heure :" in run.out
    assert '<html lang="fr"' in run.out


def test_preview_of_only_the_in_app_channel(ninefold: Ninefold) -> None:
    run = ninefold("notifications", "preview", "billing.payment_failed", "--channel", "in_app")

    assert run.code == 0, run.err
    assert "· email ·" not in run.out
    assert "----- title -----\nPayment failed for Analytical Engines\n" in run.out
    assert "----- link -----\nhttps://app.example.com/workspaces/" in run.out


def test_preview_of_an_unknown_type_exits_2_listing_the_known_ones(ninefold: Ninefold) -> None:
    run = ninefold("notifications", "preview", "billing.nothing")

    assert run.code == EXIT_USAGE
    assert run.out == ""
    assert "unknown notification type 'billing.nothing'" in run.err
    for notification in EVERY_TYPE:
        assert f"  {notification.name}\n" in run.err


def test_preview_on_a_channel_the_type_does_not_use_exits_2(ninefold: Ninefold) -> None:
    run = ninefold("notifications", "preview", "identity.verify_email", "--channel", "sms")

    assert run.code == EXIT_USAGE
    assert "identity.verify_email is not sent on sms; its channels: email" in run.err


@pytest.mark.parametrize("data", ["{not json", "[1, 2]"])
def test_preview_refuses_data_that_is_not_a_json_object(ninefold: Ninefold, data: str) -> None:
    run = ninefold("notifications", "preview", "identity.verify_email", "--data", data)

    assert run.code == EXIT_USAGE
    assert "argument --data" in run.err


def test_preview_fails_with_the_template_error_when_data_lacks_a_variable(
    ninefold: Ninefold, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.identity import notifications

    without_hours = dataclasses.replace(
        notifications.VERIFY_EMAIL, sample={"name": "Ada", "link": "https://x.example"}
    )
    monkeypatch.setattr(notifications, "IDENTITY_NOTIFICATIONS", (without_hours,))

    run = ninefold("notifications", "preview", "identity.verify_email")

    assert run.code == 1
    assert "identity.verify_email: identity.verify_email/email.txt" in run.err
    assert "the variable 'hours' is missing" in run.err
