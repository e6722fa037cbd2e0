"""People choose per category and channel; mandatory categories are not choices."""

from __future__ import annotations

import pytest

from adapters.memory.preferences import InMemoryPreferenceStore
from core.notifications.catalog import Channel, NotificationCatalog, NotificationType, channels_for
from core.notifications.errors import InvalidPreferenceError
from core.notifications.preferences import PreferenceChoice, PreferenceService

EMAIL, SMS, IN_APP = Channel.EMAIL, Channel.SMS, Channel.IN_APP

CATALOG = NotificationCatalog(
    [
        NotificationType(
            "identity.reset_password",
            "security",
            frozenset({EMAIL}),
            frozenset({EMAIL}),
            False,
            templates="core.identity",
        ),
        NotificationType(
            "billing.credits_low",
            "billing",
            frozenset({EMAIL, SMS, IN_APP}),
            frozenset({EMAIL, IN_APP}),
            templates="core.billing",
        ),
        NotificationType(
            "billing.invoice_paid",
            "billing",
            frozenset({EMAIL}),
            frozenset(),
            templates="core.billing",
        ),
    ]
)


@pytest.fixture
def store() -> InMemoryPreferenceStore:
    return InMemoryPreferenceStore()


@pytest.fixture
def service(store: InMemoryPreferenceStore) -> PreferenceService:
    return PreferenceService(store=store, catalog=CATALOG)


async def test_the_overview_shows_defaults_until_a_choice_is_made(
    service: PreferenceService,
) -> None:
    (billing,) = await service.overview("usr_1")

    assert billing.category == "billing"
    assert billing.channels == {EMAIL: True, SMS: False, IN_APP: True}
    assert billing.chosen == {}


async def test_choices_change_the_overview_and_the_channels_used(
    service: PreferenceService, store: InMemoryPreferenceStore
) -> None:
    await service.choose(
        "usr_1", [PreferenceChoice("billing", EMAIL, False), PreferenceChoice("billing", SMS, True)]
    )

    (billing,) = await service.overview("usr_1")
    assert billing.channels == {EMAIL: False, SMS: True, IN_APP: True}
    assert billing.chosen == {EMAIL: False, SMS: True}
    choices = await store.choices("usr_1")
    assert channels_for(CATALOG.get("billing.credits_low"), choices, set(Channel)) == (SMS, IN_APP)
    assert (await service.overview("usr_2"))[0].chosen == {}  # one person's choices only


@pytest.mark.parametrize(
    "choice",
    [
        PreferenceChoice("security", EMAIL, False),  # everyone receives it
        PreferenceChoice("marketing", EMAIL, False),  # no such category
        PreferenceChoice("security", IN_APP, True),  # a channel it does not use
    ],
)
async def test_a_choice_that_may_not_be_set_changes_nothing(
    service: PreferenceService, store: InMemoryPreferenceStore, choice: PreferenceChoice
) -> None:
    with pytest.raises(InvalidPreferenceError):
        await service.choose("usr_1", [PreferenceChoice("billing", SMS, True), choice])

    assert await store.choices("usr_1") == {}


async def test_reset_brings_the_defaults_back(service: PreferenceService) -> None:
    await service.choose("usr_1", [PreferenceChoice("billing", EMAIL, False)])
    await service.reset("usr_1", "billing")

    assert (await service.overview("usr_1"))[0].chosen == {}
    with pytest.raises(InvalidPreferenceError):
        await service.reset("usr_1", "security")
