from datetime import timedelta

from adapters.sql.workflows.outbox import prune_published
from core.identity import UserRegistered
from core.kernel import FixedClock
from entrypoints.containers import ApplicationContainer


async def test_published_messages_past_retention_are_pruned_and_pending_ones_kept(
    container: ApplicationContainer, clock: FixedClock
) -> None:
    async with container.unit_of_work() as uow:
        for email in ("old@example.com", "pending@example.com"):
            uow.raise_event(UserRegistered(occurred_at=clock.now(), user_id="usr_x", email=email))
        await uow.commit()
    async with container.unit_of_work() as uow:
        first, _ = await uow.outbox.claim(10, clock.now(), clock.now() + timedelta(minutes=1))
        await uow.outbox.mark_published(first.id, clock.now())
        await uow.commit()
    clock.advance(timedelta(days=8))

    async with container.unit_of_work() as uow:
        removed = await prune_published(uow.session, clock.now() - timedelta(days=7))
        await uow.commit()

    assert removed == 1
    async with container.unit_of_work() as uow:
        assert await uow.outbox.pending_count() == 1
