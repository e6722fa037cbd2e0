"""Conformance of a ``PreferenceStore``: where people's notification choices are kept.

Provide a fixture ``preference_store``: the adapter, bound to one open unit of work
(for SQL, a session that is never committed: everything is read back in it).

Only choices are stored: a pair (category, channel) a person never chose, or whose
choice was forgotten, is absent from ``choices``.
"""

from __future__ import annotations

from core.notifications import Channel, PreferenceChoice, PreferenceStore

ADA, BOB = "usr_contracts_ada", "usr_contracts_bob"
EMAIL, SMS, IN_APP = Channel.EMAIL, Channel.SMS, Channel.IN_APP


class PreferenceStoreContract:
    async def test_someone_who_chose_nothing_has_no_choices(
        self, preference_store: PreferenceStore
    ) -> None:
        assert dict(await preference_store.choices(ADA)) == {}

    async def test_saved_choices_are_read_back(self, preference_store: PreferenceStore) -> None:
        await preference_store.save(
            ADA,
            [
                PreferenceChoice("billing", EMAIL, False),
                PreferenceChoice("billing", IN_APP, True),
                PreferenceChoice("product", SMS, True),
            ],
        )

        assert dict(await preference_store.choices(ADA)) == {
            ("billing", EMAIL): False,
            ("billing", IN_APP): True,
            ("product", SMS): True,
        }

    async def test_a_new_choice_replaces_the_earlier_one_for_the_same_pair(
        self, preference_store: PreferenceStore
    ) -> None:
        await preference_store.save(
            ADA, [PreferenceChoice("billing", EMAIL, True), PreferenceChoice("billing", SMS, True)]
        )

        await preference_store.save(ADA, [PreferenceChoice("billing", EMAIL, False)])

        assert dict(await preference_store.choices(ADA)) == {
            ("billing", EMAIL): False,
            ("billing", SMS): True,
        }

    async def test_the_last_of_two_choices_for_one_pair_in_one_save_wins(
        self, preference_store: PreferenceStore
    ) -> None:
        await preference_store.save(
            ADA,
            [PreferenceChoice("billing", EMAIL, False), PreferenceChoice("billing", EMAIL, True)],
        )

        assert dict(await preference_store.choices(ADA)) == {("billing", EMAIL): True}

    async def test_forgotten_choices_follow_the_defaults_again(
        self, preference_store: PreferenceStore
    ) -> None:
        await preference_store.save(
            ADA,
            [
                PreferenceChoice("billing", EMAIL, False),
                PreferenceChoice("billing", SMS, True),
                PreferenceChoice("product", EMAIL, False),
            ],
        )

        await preference_store.forget(ADA, [("billing", EMAIL), ("billing", SMS), ("x", IN_APP)])
        await preference_store.forget(ADA, [])

        assert dict(await preference_store.choices(ADA)) == {("product", EMAIL): False}

    async def test_each_persons_choices_are_their_own(
        self, preference_store: PreferenceStore
    ) -> None:
        await preference_store.save(ADA, [PreferenceChoice("billing", EMAIL, False)])
        await preference_store.save(BOB, [PreferenceChoice("billing", EMAIL, True)])
        await preference_store.save(BOB, [])

        await preference_store.forget(BOB, [("billing", EMAIL)])

        assert dict(await preference_store.choices(ADA)) == {("billing", EMAIL): False}
        assert dict(await preference_store.choices(BOB)) == {}

    async def test_channels_come_back_as_channels(self, preference_store: PreferenceStore) -> None:
        await preference_store.save(ADA, [PreferenceChoice("billing", IN_APP, True)])

        ((category, channel),) = (await preference_store.choices(ADA)).keys()

        assert (category, channel) == ("billing", Channel.IN_APP)
        assert isinstance(channel, Channel)
