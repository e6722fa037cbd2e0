"""Conformance of an ``InboxStore``: where in-app notifications are kept.

Provide a fixture ``inbox_store``: the adapter, bound to one open unit of work (for SQL,
a session that is never committed: everything is read back in it).

Ids grow with time: "newest first" is "highest id first", and a page goes on with the
ids lower than ``before``. With a ``workspace_id``, a user sees that workspace's
notifications and those of no workspace; without one, all of theirs.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from core.kernel import IdGenerator
from core.notifications.inbox import InAppNotification, InboxStore

T0 = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
ADA, BOB = "usr_contracts_ada", "usr_contracts_bob"
WS1, WS2 = "ws_contracts_one", "ws_contracts_two"
ids = IdGenerator()


def a_notification(user_id: str = ADA, **changes: object) -> InAppNotification:
    notification = InAppNotification(
        id=ids.new("ntf", T0),
        user_id=user_id,
        workspace_id=WS1,
        notification_type="contracts.credits_low",
        category="billing",
        title="Credits are running low",
        body="You have 10 credits left — top up to keep going. 🔋",
        link="/billing/credits",
        created_at=T0,
    )
    return msgspec.structs.replace(notification, **changes)


async def add_all(store: InboxStore, *notifications: InAppNotification) -> None:
    for notification in notifications:
        await store.add(notification)


def _ids(notifications: Iterable[InAppNotification]) -> list[str]:
    return [n.id for n in notifications]


class InboxStoreContract:
    async def test_a_notification_is_kept_with_every_field_for_its_user_only(
        self, inbox_store: InboxStore
    ) -> None:
        full = a_notification()
        bare = a_notification(workspace_id=None, link=None, read_at=T0 + timedelta(seconds=1))
        await add_all(inbox_store, full, bare)

        assert await inbox_store.get(ADA, full.id) == full
        assert await inbox_store.get(ADA, bare.id) == bare
        assert await inbox_store.get(BOB, full.id) is None
        assert await inbox_store.get(ADA, "ntf_unknown") is None
        stored = await inbox_store.get(ADA, bare.id)
        assert stored is not None
        assert stored.read_at is not None
        assert stored.created_at.utcoffset() == stored.read_at.utcoffset() == timedelta(0)

    async def test_a_page_is_newest_first_and_goes_on_below_before(
        self, inbox_store: InboxStore
    ) -> None:
        mine = [a_notification() for _ in range(5)]
        await add_all(inbox_store, *mine, a_notification(BOB))
        newest_first = list(reversed(mine))

        async def page(before: str | None) -> list[str]:
            found = await inbox_store.page(
                ADA, workspace_id=None, unread_only=False, before=before, limit=2
            )
            return _ids(found)

        first = await page(None)
        second = await page(first[-1])
        last = await page(second[-1])

        assert [*first, *second, *last] == _ids(newest_first)
        assert await page(mine[0].id) == []
        everything = await inbox_store.page(
            ADA, workspace_id=None, unread_only=False, before=None, limit=10
        )
        assert list(everything) == newest_first
        with pytest.raises(ValueError, match="limit"):
            await inbox_store.page(ADA, workspace_id=None, unread_only=False, before=None, limit=0)

    async def test_a_workspace_page_shows_that_workspaces_and_those_of_none(
        self, inbox_store: InboxStore
    ) -> None:
        one, none, two = (a_notification(workspace_id=w) for w in (WS1, None, WS2))
        await add_all(inbox_store, one, none, two)

        async def page(workspace_id: str | None) -> list[str]:
            found = await inbox_store.page(
                ADA, workspace_id=workspace_id, unread_only=False, before=None, limit=10
            )
            return _ids(found)

        assert await page(WS1) == [none.id, one.id]
        assert await page(WS2) == [two.id, none.id]
        assert await page("ws_contracts_other") == [none.id]
        assert await page(None) == [two.id, none.id, one.id]

    async def test_unread_only_pages_and_counts_leave_out_read_ones(
        self, inbox_store: InboxStore
    ) -> None:
        read = a_notification(read_at=T0)
        unread = a_notification()
        other_workspace = a_notification(workspace_id=WS2)
        await add_all(inbox_store, read, unread, other_workspace, a_notification(BOB))

        found = await inbox_store.page(
            ADA, workspace_id=WS1, unread_only=True, before=None, limit=10
        )

        assert _ids(found) == [unread.id]
        assert await inbox_store.unread_count(ADA, workspace_id=WS1) == 1
        assert await inbox_store.unread_count(ADA, workspace_id=None) == 2
        assert await inbox_store.unread_count(BOB, workspace_id=None) == 1
        assert await inbox_store.unread_count("usr_contracts_nobody", workspace_id=None) == 0

    async def test_mark_read_changes_only_the_users_unread_ones_and_counts_them(
        self, inbox_store: InboxStore
    ) -> None:
        first, second, already = a_notification(), a_notification(), a_notification(read_at=T0)
        bobs = a_notification(BOB)
        await add_all(inbox_store, first, second, already, bobs)
        at = T0 + timedelta(minutes=1)

        ids_given = [first.id, first.id, already.id, bobs.id, "ntf_unknown"]
        assert await inbox_store.mark_read(ADA, ids_given, at) == 1
        assert await inbox_store.mark_read(ADA, [first.id], at + timedelta(minutes=1)) == 0
        assert await inbox_store.mark_read(ADA, [], at) == 0

        marked = await inbox_store.get(ADA, first.id)
        assert marked is not None
        assert marked.read_at == at
        assert (await inbox_store.get(ADA, already.id)) == already
        assert (await inbox_store.get(ADA, second.id)) == second
        assert (await inbox_store.get(BOB, bobs.id)) == bobs
        assert await inbox_store.unread_count(ADA, workspace_id=None) == 1

    async def test_mark_all_read_is_scoped_like_a_workspace_page(
        self, inbox_store: InboxStore
    ) -> None:
        one, none, two = (a_notification(workspace_id=w) for w in (WS1, None, WS2))
        bobs = a_notification(BOB)
        await add_all(inbox_store, one, none, two, bobs)
        at = T0 + timedelta(minutes=1)

        assert await inbox_store.mark_all_read(ADA, workspace_id=WS1, at=at) == 2
        assert await inbox_store.mark_all_read(ADA, workspace_id=WS1, at=at) == 0

        assert await inbox_store.unread_count(ADA, workspace_id=WS2) == 1
        assert await inbox_store.unread_count(BOB, workspace_id=None) == 1
        assert await inbox_store.mark_all_read(ADA, workspace_id=None, at=at) == 1
        assert await inbox_store.unread_count(ADA, workspace_id=None) == 0
        marked = await inbox_store.get(ADA, one.id)
        assert marked is not None
        assert marked.read_at == at

    async def test_created_since_gives_the_users_newer_ones_oldest_first(
        self, inbox_store: InboxStore
    ) -> None:
        at = [T0 + timedelta(seconds=n) for n in range(4)]
        old = a_notification(created_at=at[0])
        # Added out of time order: the stream follows created_at, then id.
        later = a_notification(created_at=at[3])
        since = a_notification(BOB, created_at=at[1])
        between = a_notification(workspace_id=None, created_at=at[2])
        others = a_notification("usr_contracts_eve", created_at=at[3])
        await add_all(inbox_store, old, later, since, between, others)

        found = await inbox_store.created_since(at[1], user_ids=[ADA, BOB], limit=10)
        limited = await inbox_store.created_since(at[1], user_ids=[ADA, BOB], limit=2)

        assert _ids(found) == [since.id, between.id, later.id]
        assert _ids(limited) == [since.id, between.id]
        assert _ids(await inbox_store.created_since(at[0], user_ids=[BOB], limit=10)) == [since.id]
        assert await inbox_store.created_since(at[0], user_ids=[], limit=10) == []
        just_after = at[3] + timedelta(microseconds=1)
        assert await inbox_store.created_since(just_after, user_ids=[ADA], limit=10) == []
