"""Notification templates rendered with Jinja2: every declared type's templates, and
how the renderer finds, localises, escapes and checks them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.jinja import JinjaTemplateRenderer
from core.billing.notifications import BILLING_NOTIFICATIONS, CREDITS_LOW, PAYMENT_FAILED
from core.identity.notifications import (
    IDENTITY_NOTIFICATIONS,
    RESET_PASSWORD,
    VERIFY_EMAIL,
    WORKSPACE_INVITATION,
)
from core.notifications import Channel, NotificationType, Rendered, TemplateError
from core.workflows.notifications import WORKFLOWS_NOTIFICATIONS

EMAIL, SMS, IN_APP = Channel.EMAIL, Channel.SMS, Channel.IN_APP
EVERY_TYPE = (*IDENTITY_NOTIFICATIONS, *WORKFLOWS_NOTIFICATIONS, *BILLING_NOTIFICATIONS)
UNSUBSCRIBE_URL = "https://app.example.com/api/v1/notifications/unsubscribe?token=tok_sample"
COMMON = {
    "app_name": "Ninefold",
    "public_url": "https://app.example.com",
    "recipient_name": "Ada",
    "preferences_url": "https://app.example.com/settings/notifications",
    "unsubscribe_url": None,
}


def context(notification: NotificationType, **changes: Any) -> dict[str, Any]:
    return {**COMMON, **notification.sample, **changes}


@pytest.fixture
def strict() -> JinjaTemplateRenderer:
    return JinjaTemplateRenderer(strict=True)


@pytest.fixture
def lenient() -> JinjaTemplateRenderer:
    return JinjaTemplateRenderer(strict=False)


# A templates folder of its own ("path:<folder>", holding templates/<type name>/) for the
# edge cases; the layout stays core.notifications'.
Files = dict[str, str]
MakeType = Callable[..., NotificationType]

SAMPLE_FILES: Files = {
    "email.subject.txt": "Hello {{ name }}",
    "email.txt": "{% extends layout %}{% block body %}Body for {{ name }}{% endblock %}",
    "email.html": "{% extends layout %}{% block body %}<p>{{ name }}</p>{% endblock %}",
    "sms.txt": "Text for {{ name }}",
    "in_app.title.txt": "Title for {{ name }}",
    "in_app.txt": "In-app body for {{ name }}",
}


@pytest.fixture
def make_type(tmp_path: Path) -> MakeType:
    """``make_type(files)``: a type ``tests.sample`` on every channel whose templates
    are ``files`` (relative path → source) in a fresh folder."""
    made = 0

    def make(files: Files, *, opt_out: bool = True) -> NotificationType:
        nonlocal made
        made += 1
        root = tmp_path / f"package{made}"
        for relative, source in files.items():
            path = root / "templates" / "tests.sample" / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(source)
        return NotificationType(
            "tests.sample",
            "product",
            channels=frozenset(Channel),
            default_channels=frozenset({EMAIL}),
            opt_out=opt_out,
            templates=f"path:{root}",
        )

    return make


# Every declared type


@pytest.mark.parametrize(
    ("notification", "channel"),
    [(n, c) for n in EVERY_TYPE for c in sorted(n.channels)],
    ids=lambda value: getattr(value, "name", str(value)),
)
def test_every_type_renders_its_sample_on_each_of_its_channels(
    strict: JinjaTemplateRenderer, notification: NotificationType, channel: Channel
) -> None:
    rendered = strict.render(notification, channel, context(notification))

    assert rendered.text
    assert "{{" not in rendered.text
    assert "{%" not in rendered.text
    values = [str(value) for value in notification.sample.values()]
    if channel is EMAIL:
        assert rendered.subject
        assert rendered.html is not None
        assert rendered.html.startswith("<!DOCTYPE html>")
        assert f"<title>{rendered.subject}</title>" in rendered.html
        for value in values:
            assert value in rendered.text
            assert value in rendered.html
    else:
        assert rendered.subject
        assert any(value in f"{rendered.text} {rendered.link}" for value in values)


@pytest.mark.parametrize("notification", EVERY_TYPE, ids=lambda n: n.name)
def test_every_type_declares_a_sample_and_its_templates_package(
    notification: NotificationType,
) -> None:
    system = notification.name.split(".")[0]
    expected = {"workspace": "core.identity"}.get(system, f"core.{system}")
    assert notification.templates == expected
    assert notification.sample


def test_the_verification_email_keeps_the_words_of_the_hand_written_one(
    strict: JinjaTemplateRenderer,
) -> None:
    rendered = strict.render(VERIFY_EMAIL, EMAIL, context(VERIFY_EMAIL))

    assert rendered.subject == "Confirm your email address"
    assert rendered.text.startswith(
        "Hello Ada Lovelace,\n\nconfirm your email address by opening this link within "
        "48 hours:\n\nhttps://app.example.com/verify-email?token=vt_sample\n\n"
        "If you did not sign up, ignore this email.\n\n--\n"
    )


@pytest.mark.parametrize(("hours", "said"), [(1, "within 1 hour:"), (2, "within 2 hours:")])
def test_the_reset_email_says_hour_or_hours(
    strict: JinjaTemplateRenderer, hours: int, said: str
) -> None:
    rendered = strict.render(RESET_PASSWORD, EMAIL, context(RESET_PASSWORD, hours=hours))

    assert said in rendered.text


def test_an_invitation_without_an_inviter_name_comes_from_a_member(
    strict: JinjaTemplateRenderer,
) -> None:
    data = context(WORKSPACE_INVITATION, inviter_name="")

    rendered = strict.render(WORKSPACE_INVITATION, EMAIL, data)

    assert "A member invited you to join the workspace Analytical Engines as member." in (
        rendered.text
    )


# The layout's footer


def test_the_footer_has_the_unsubscribe_link_only_when_there_is_one(
    strict: JinjaTemplateRenderer,
) -> None:
    without = strict.render(CREDITS_LOW, EMAIL, context(CREDITS_LOW))
    with_link = strict.render(
        CREDITS_LOW, EMAIL, context(CREDITS_LOW, unsubscribe_url=UNSUBSCRIBE_URL)
    )

    assert with_link.html is not None
    assert without.html is not None
    assert f"Stop these emails: {UNSUBSCRIBE_URL}" in with_link.text
    assert f'href="{UNSUBSCRIBE_URL}"' in with_link.html
    assert "Unsubscribe" in with_link.html
    assert "unsubscribe" not in without.text.lower()
    assert "unsubscribe" not in without.html.lower()
    for rendered in (with_link, without):
        assert "Notification settings: https://app.example.com/settings/notifications" in (
            rendered.text
        )
        assert 'href="https://app.example.com/settings/notifications"' in str(rendered.html)
        assert "Ninefold" in rendered.text


def test_none_renders_as_nothing(strict: JinjaTemplateRenderer) -> None:
    rendered = strict.render(PAYMENT_FAILED, EMAIL, context(PAYMENT_FAILED, recipient_name=None))

    assert rendered.text.startswith("Hello,\n")
    assert "None" not in rendered.text


# Escaping


def test_html_is_escaped_and_text_is_not(strict: JinjaTemplateRenderer) -> None:
    data = context(CREDITS_LOW, workspace_name="<script>alert(1)</script> & co")

    rendered = strict.render(CREDITS_LOW, EMAIL, data)

    assert rendered.html is not None
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in rendered.html
    assert "<script>alert(1)</script> & co" in rendered.text
    assert rendered.subject == "<script>alert(1)</script> & co is running low on credits"


# Strict and lenient


def test_a_missing_variable_is_an_error_in_strict_mode(strict: JinjaTemplateRenderer) -> None:
    data = context(VERIFY_EMAIL)
    del data["link"]

    with pytest.raises(TemplateError) as raised:
        strict.render(VERIFY_EMAIL, EMAIL, data)

    error = raised.value
    assert "identity.verify_email" in error.detail
    assert "email.txt" in error.detail
    assert "'link'" in error.detail
    assert error.extra == {
        "notification": "identity.verify_email",
        "template": "identity.verify_email/email.txt",
        "variable": "link",
    }


def test_a_missing_common_key_names_the_layout_where_it_is_used(
    strict: JinjaTemplateRenderer,
) -> None:
    data = context(VERIFY_EMAIL)
    del data["preferences_url"]

    with pytest.raises(TemplateError, match=r"'preferences_url'.*_layout/email\.txt:\d+"):
        strict.render(VERIFY_EMAIL, EMAIL, data)


def test_a_missing_variable_renders_empty_and_is_logged_in_lenient_mode(
    lenient: JinjaTemplateRenderer, caplog: pytest.LogCaptureFixture
) -> None:
    data = context(VERIFY_EMAIL)
    del data["link"]

    with caplog.at_level(logging.WARNING, logger="ninefold.notifications"):
        rendered = lenient.render(VERIFY_EMAIL, EMAIL, data)

    assert "within 48 hours:\n\n\n\nIf you did not sign up" in rendered.text
    warnings = [r for r in caplog.records if r.name == "ninefold.notifications"]
    assert warnings
    assert all(r.levelno == logging.WARNING for r in warnings)
    assert "identity.verify_email/email.txt" in warnings[0].getMessage()
    assert "'link'" in warnings[0].getMessage()


def test_lenient_mode_renders_a_missing_attribute_empty(
    lenient: JinjaTemplateRenderer, make_type: MakeType
) -> None:
    notification = make_type({**SAMPLE_FILES, "sms.txt": "[{{ user.name }}]"})

    assert lenient.render(notification, SMS, {}).text == "[]"


# Finding the templates


def test_a_locale_variant_is_used_and_its_region_falls_back_to_the_language(
    strict: JinjaTemplateRenderer,
) -> None:
    for locale in ("fr", "fr-CA", "FR_ca"):
        rendered = strict.render(VERIFY_EMAIL, EMAIL, context(VERIFY_EMAIL), locale=locale)

        assert rendered.subject == "Confirmez votre adresse e-mail"
        assert rendered.text.startswith("Bonjour Ada Lovelace,")
        assert "Réglages des notifications" in rendered.text  # the French layout
        assert rendered.html is not None
        assert '<html lang="fr"' in rendered.html


@pytest.mark.parametrize("locale", [None, "", "de", "de-AT", "../../etc", "fr/../x"])
def test_a_locale_without_variants_gets_the_default_templates(
    strict: JinjaTemplateRenderer, locale: str | None
) -> None:
    rendered = strict.render(VERIFY_EMAIL, EMAIL, context(VERIFY_EMAIL), locale=locale)

    assert rendered.subject == "Confirm your email address"
    assert "Notification settings" in rendered.text
    assert '<html lang="en"' in str(rendered.html)


def test_a_type_in_a_locale_the_layout_lacks_still_gets_the_default_layout(
    strict: JinjaTemplateRenderer, make_type: MakeType
) -> None:
    notification = make_type(
        {**SAMPLE_FILES, "de/email.txt": "{% extends layout %}{% block body %}Hallo{% endblock %}"}
    )

    rendered = strict.render(notification, EMAIL, {**COMMON, "name": "Ada"}, locale="de")

    assert rendered.text.startswith("Hallo\n\n--\nNinefold")
    assert "Notification settings" in rendered.text


def test_each_file_falls_back_on_its_own_along_the_locale_chain(
    strict: JinjaTemplateRenderer, make_type: MakeType
) -> None:
    notification = make_type(
        {
            **SAMPLE_FILES,
            "pt/email.subject.txt": "Olá {{ name }}",
            "pt-br/email.txt": "{% extends layout %}{% block body %}Corpo {{ name }}{% endblock %}",
        }
    )
    data = {**COMMON, "name": "Ada"}

    brazil = strict.render(notification, EMAIL, data, locale="pt-BR")
    portugal = strict.render(notification, EMAIL, data, locale="pt-PT")

    assert (brazil.subject, brazil.text.split("\n")[0]) == ("Olá Ada", "Corpo Ada")
    assert "<p>Ada</p>" in str(brazil.html)  # no variant: the default
    assert (portugal.subject, portugal.text.split("\n")[0]) == ("Olá Ada", "Body for Ada")


def test_a_missing_required_template_is_an_error_naming_the_file(
    strict: JinjaTemplateRenderer, lenient: JinjaTemplateRenderer, make_type: MakeType
) -> None:
    files = dict(SAMPLE_FILES)
    del files["email.html"]
    notification = make_type(files)

    for renderer in (strict, lenient):
        with pytest.raises(TemplateError, match=r"tests\.sample: the template email\.html"):
            renderer.render(notification, EMAIL, {**COMMON, "name": "Ada"})


def test_a_template_that_does_not_parse_is_an_error_naming_the_file_and_line(
    lenient: JinjaTemplateRenderer, make_type: MakeType
) -> None:
    notification = make_type({**SAMPLE_FILES, "sms.txt": "Hello\n{{ name }\n"})

    with pytest.raises(TemplateError, match=r"tests\.sample/sms\.txt.*line 2") as raised:
        lenient.render(notification, SMS, {"name": "Ada"})
    assert raised.value.extra["template"] == "tests.sample/sms.txt"


def test_a_type_whose_package_has_no_templates_folder_is_an_error(
    strict: JinjaTemplateRenderer,
) -> None:
    notification = NotificationType(
        "tests.nowhere",
        "product",
        channels=frozenset({SMS}),
        default_channels=frozenset({SMS}),
        templates="core.kernel",
    )

    with pytest.raises(TemplateError, match=r"core\.kernel"):
        strict.render(notification, SMS, {})


def test_a_channel_the_type_does_not_use_is_an_error(strict: JinjaTemplateRenderer) -> None:
    with pytest.raises(TemplateError, match="not sent on sms"):
        strict.render(VERIFY_EMAIL, SMS, context(VERIFY_EMAIL))


# In-app and the shape of the output


def test_the_in_app_link_is_optional(strict: JinjaTemplateRenderer, make_type: MakeType) -> None:
    without = make_type(SAMPLE_FILES)
    empty = make_type({**SAMPLE_FILES, "in_app.link.txt": "{{ link }}\n"})
    with_link = make_type({**SAMPLE_FILES, "in_app.link.txt": "\n  {{ link }}  \n"})
    data = {"name": "Ada", "link": "https://app.example.com/x"}

    assert strict.render(without, IN_APP, data) == Rendered(
        subject="Title for Ada", text="In-app body for Ada", link=None
    )
    assert strict.render(empty, IN_APP, {**data, "link": ""}).link is None
    assert strict.render(with_link, IN_APP, data).link == "https://app.example.com/x"


def test_subjects_are_one_line_and_bodies_keep_their_lines(
    strict: JinjaTemplateRenderer, make_type: MakeType
) -> None:
    notification = make_type(
        {
            **SAMPLE_FILES,
            "in_app.title.txt": "\n  A title\r\n on\n\n three lines  \n",
            "sms.txt": "\n\nFirst line\n\n  Indented line   \n\n\n",
        }
    )

    assert strict.render(notification, IN_APP, {"name": "Ada"}).subject == (
        "A title on three lines"
    )
    assert strict.render(notification, SMS, {}).text == "First line\n\n  Indented line"


def test_a_subject_line_break_from_the_data_becomes_a_space(
    strict: JinjaTemplateRenderer,
) -> None:
    data = context(CREDITS_LOW, workspace_name="Acme\r\nBcc: someone@example.com")

    rendered = strict.render(CREDITS_LOW, EMAIL, data)

    assert rendered.subject == "Acme Bcc: someone@example.com is running low on credits"


def test_templates_are_loaded_once(strict: JinjaTemplateRenderer, make_type: MakeType) -> None:
    notification = make_type(SAMPLE_FILES)
    assert strict.render(notification, SMS, {"name": "Ada"}).text == "Text for Ada"
    folder = Path(notification.templates.removeprefix("path:")) / "templates" / "tests.sample"
    (folder / "sms.txt").write_text("Changed")

    assert strict.render(notification, SMS, {"name": "Ada"}).text == "Text for Ada"
