"""The data requests' notifications render their samples on each of their channels."""

from __future__ import annotations

import pytest

from adapters.jinja import JinjaTemplateRenderer
from core.notifications import Channel, NotificationType
from core.safety.data_notifications import DATA_NOTIFICATIONS

COMMON = {
    "app_name": "Ninefold",
    "public_url": "https://app.example.com",
    "recipient_name": "Ada",
    "preferences_url": "https://app.example.com/settings/notifications",
    "unsubscribe_url": None,
}


@pytest.mark.parametrize(
    ("notification", "channel"),
    [(n, c) for n in DATA_NOTIFICATIONS for c in sorted(n.channels)],
    ids=lambda value: getattr(value, "name", str(value)),
)
def test_each_renders_its_sample_with_every_value_in_it(
    notification: NotificationType, channel: Channel
) -> None:
    rendered = JinjaTemplateRenderer(strict=True).render(
        notification, channel, {**COMMON, **notification.sample}
    )

    assert rendered.subject
    shown = f"{rendered.text} {rendered.link or ''} {rendered.html or ''}"
    for value in notification.sample.values():
        assert str(value) in shown
    assert "{{" not in shown


def test_neither_can_be_turned_off() -> None:
    assert all(not n.opt_out and n.category == "security" for n in DATA_NOTIFICATIONS)
