"""Notification types and how preferences choose their channels."""

from __future__ import annotations

import pytest

from core.notifications.catalog import Channel, NotificationCatalog, NotificationType, channels_for
from core.notifications.errors import (
    DuplicateNotificationTypeError,
    UnknownNotificationTypeError,
)

EMAIL, SMS, IN_APP = Channel.EMAIL, Channel.SMS, Channel.IN_APP
EVERYWHERE = frozenset(Channel)

RESET = NotificationType(
    "identity.reset_password",
    "security",
    channels=frozenset({EMAIL}),
    default_channels=frozenset({EMAIL}),
    opt_out=False,
    templates="core.identity",
)
CREDITS_LOW = NotificationType(
    "billing.credits_low",
    "billing",
    channels=frozenset({EMAIL, IN_APP, SMS}),
    default_channels=frozenset({EMAIL, IN_APP}),
    templates="core.billing",
)


def test_without_preferences_a_type_uses_its_default_channels() -> None:
    assert channels_for(CREDITS_LOW, {}, EVERYWHERE) == (EMAIL, IN_APP)


def test_preferences_turn_channels_of_a_category_on_and_off() -> None:
    preferences = {("billing", EMAIL): False, ("billing", SMS): True}
    assert channels_for(CREDITS_LOW, preferences, EVERYWHERE) == (SMS, IN_APP)


def test_a_channel_that_cannot_reach_the_person_is_left_out() -> None:
    preferences = {("billing", SMS): True}
    assert channels_for(CREDITS_LOW, preferences, {EMAIL, IN_APP}) == (EMAIL, IN_APP)


def test_preferences_of_another_category_change_nothing() -> None:
    assert channels_for(CREDITS_LOW, {("product", EMAIL): False}, EVERYWHERE) == (EMAIL, IN_APP)


def test_a_type_nobody_may_opt_out_of_ignores_preferences() -> None:
    assert channels_for(RESET, {("security", EMAIL): False}, EVERYWHERE) == (EMAIL,)


@pytest.mark.parametrize(
    ("name", "category", "channels", "defaults", "opt_out", "message"),
    [
        ("no_dot", "billing", {EMAIL}, {EMAIL}, True, "look like"),
        ("a.b", "Bad Category", {EMAIL}, {EMAIL}, True, "categories"),
        ("a.b", "billing", set(), set(), True, "at least one channel"),
        ("a.b", "billing", {EMAIL}, {SMS}, True, "among its channels"),
        ("a.b", "security", {EMAIL}, set(), False, "needs default channels"),
    ],
)
def test_a_badly_declared_type_is_refused(
    name: str,
    category: str,
    channels: set[Channel],
    defaults: set[Channel],
    opt_out: bool,
    message: str,
) -> None:
    with pytest.raises(ValueError, match=message):
        NotificationType(
            name, category, frozenset(channels), frozenset(defaults), opt_out, templates="core.x"
        )


def test_the_catalog_lists_the_categories_people_may_choose() -> None:
    catalog = NotificationCatalog([RESET, CREDITS_LOW])

    assert catalog.get("billing.credits_low") is CREDITS_LOW
    assert catalog.categories() == {"billing": frozenset({EMAIL, SMS, IN_APP})}
    assert catalog.may_set("billing", SMS)
    assert not catalog.may_set("security", EMAIL)  # mandatory: not a choice
    assert [t.name for t in catalog.all()] == ["billing.credits_low", "identity.reset_password"]


def test_the_catalog_refuses_two_types_with_one_name_and_names_unknown_ones() -> None:
    catalog = NotificationCatalog([RESET])
    catalog.register(RESET)  # the same declaration again is harmless
    with pytest.raises(DuplicateNotificationTypeError):
        catalog.register(
            NotificationType(
                "identity.reset_password",
                "account",
                RESET.channels,
                RESET.channels,
                templates="core.identity",
            )
        )
    with pytest.raises(UnknownNotificationTypeError, match=r"billing\.nothing"):
        catalog.get("billing.nothing")
