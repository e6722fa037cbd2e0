"""Feature flags on SQLite and PostgreSQL: the store, the history, scheduled changes, the
snapshot version bumped with every change, and a change made through one process seen
by another within two seconds."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import msgspec
import pytest
from sqlalchemy import select

from adapters.sql.workflows.tables import outbox
from core.kernel import FixedClock
from core.safety import Topic
from core.safety.flag_eval import EvaluationContext, Reason
from core.safety.flag_events import (
    ChangeAction,
    FlagPatch,
    FlagReasonRequiredError,
    FlagVersionConflictError,
    ScheduleState,
    SegmentInUseError,
)
from core.safety.flags import (
    Constraint,
    EnvironmentConfig,
    Flag,
    FlagKind,
    Operator,
    Rule,
    Segment,
)
from entrypoints.containers import ApplicationContainer, build_container, close_container
from entrypoints.safety.runtime import SafetyRuntime
from entrypoints.settings import Settings

ENV = "test"  # the test settings' environment
PRO = Constraint(attribute="plan", operator=Operator.IN, values=("pro",))


def beta(**config: object) -> Flag:
    return Flag(
        key="beta-dashboard",
        description="The new dashboard",
        environments={ENV: EnvironmentConfig(**config)},  # type: ignore[arg-type]
    )


async def create(container: ApplicationContainer, made: Flag) -> Flag:
    async with container.unit_of_work() as uow:
        created = await container.safety.flag_service(uow=uow).create(
            made, reason="launch plan", actor="usr_staff"
        )
        await uow.commit()
    return created


async def test_a_created_flag_is_stored_whole_and_its_creation_recorded(
    container: ApplicationContainer,
) -> None:
    created = await create(container, beta(enabled=True, rules=(Rule(constraints=(PRO,)),)))

    async with container.unit_of_work() as uow:
        service = container.safety.flag_service(uow=uow)
        stored = await service.get("beta-dashboard")
        history = await service.store.history("flag", "beta-dashboard")
        versions = await container.safety.versions(uow.session).versions()

    assert stored == created
    assert [v.key for v in stored.variants] == ["on", "off"]
    assert stored.version == 1
    assert [(c.action, c.actor, c.reason) for c in history] == [
        (ChangeAction.CREATED, "usr_staff", "launch plan")
    ]
    assert history[0].before is None
    assert history[0].after is not None
    assert history[0].after["environments"][ENV]["enabled"] is True
    assert versions[Topic.FLAGS.value] == 1


async def test_an_update_keeps_before_and_after_and_raises_an_audited_event(
    container: ApplicationContainer,
) -> None:
    await create(container, beta(enabled=False))

    async with container.unit_of_work() as uow:
        updated = await container.safety.flag_service(uow=uow).set_environment(
            "beta-dashboard", ENV, enabled=True, rollout=25, reason="ramp up", actor="usr_ops"
        )
        await uow.commit()
    async with container.unit_of_work() as uow:
        history = await container.safety.flag_service(uow=uow).store.history(
            "flag", "beta-dashboard"
        )
        names = (await uow.session.scalars(select(outbox.c.name))).all()

    assert updated.version == 2
    assert updated.environment(ENV).rules[0].rollout == 25
    change = history[0]
    assert (change.action, change.actor, change.reason) == (
        ChangeAction.UPDATED,
        "usr_ops",
        "ramp up",
    )
    assert change.before is not None
    assert change.after is not None
    assert change.before["environments"][ENV]["enabled"] is False
    assert change.after["environments"][ENV]["enabled"] is True
    assert "safety.flag_created" in names
    assert "safety.flag_updated" in names


async def test_a_change_without_a_reason_is_refused(container: ApplicationContainer) -> None:
    async with container.unit_of_work() as uow:
        with pytest.raises(FlagReasonRequiredError):
            await container.safety.flag_service(uow=uow).create(beta(), reason="  ", actor=None)


async def test_an_update_of_a_version_read_earlier_is_refused(
    container: ApplicationContainer,
) -> None:
    await create(container, beta())
    patch = FlagPatch(description="changed")
    async with container.unit_of_work() as uow:
        await container.safety.flag_service(uow=uow).update(
            "beta-dashboard", patch, reason="one", actor=None, expected_version=1
        )
        await uow.commit()

    async with container.unit_of_work() as uow:
        with pytest.raises(FlagVersionConflictError):
            await container.safety.flag_service(uow=uow).update(
                "beta-dashboard", patch, reason="two", actor=None, expected_version=1
            )


async def test_a_scheduled_change_is_applied_when_its_time_comes(
    container: ApplicationContainer, clock: FixedClock
) -> None:
    await create(container, beta(enabled=False))
    patch = FlagPatch(environments={ENV: EnvironmentConfig(enabled=True, default_variant="on")})
    async with container.unit_of_work() as uow:
        schedule = await container.safety.flag_service(uow=uow).schedule(
            "beta-dashboard",
            patch,
            apply_at=clock.now() + timedelta(hours=2),
            reason="launch at 10",
            actor="usr_ops",
        )
        await uow.commit()

    async with container.unit_of_work() as uow:
        early = await container.safety.flag_service(uow=uow).apply_due()
        await uow.commit()
    clock.advance(timedelta(hours=2))
    async with container.unit_of_work() as uow:
        applied = await container.safety.flag_service(uow=uow).apply_due()
        await uow.commit()
    async with container.unit_of_work() as uow:
        service = container.safety.flag_service(uow=uow)
        flag = await service.get("beta-dashboard")
        history = await service.store.history("flag", "beta-dashboard")
        pending = await service.store.schedules()

    assert early == []
    assert [(s.id, s.state) for s in applied] == [(schedule.id, ScheduleState.APPLIED)]
    assert flag.environment(ENV).enabled is True
    assert history[0].schedule_id == schedule.id
    assert history[0].actor == "usr_ops"
    assert "launch at 10" in history[0].reason
    assert [c.action for c in history] == [
        ChangeAction.UPDATED,
        ChangeAction.SCHEDULED,
        ChangeAction.CREATED,
    ]
    assert pending == []


async def test_a_segment_in_use_cannot_be_deleted(container: ApplicationContainer) -> None:
    async with container.unit_of_work() as uow:
        service = container.safety.flag_service(uow=uow)
        await service.save_segment(
            Segment(key="paying", constraints=(PRO,)), reason="reuse", actor=None, create=True
        )
        await service.create(
            beta(enabled=True, rules=(Rule(segments=("paying",)),)), reason="r", actor=None
        )
        await uow.commit()

    async with container.unit_of_work() as uow:
        with pytest.raises(SegmentInUseError):
            await container.safety.flag_service(uow=uow).delete_segment(
                "paying", reason="cleanup", actor=None
            )


async def test_the_snapshot_evaluates_the_stored_flags_with_their_segments(
    container: ApplicationContainer,
) -> None:
    async with container.unit_of_work() as uow:
        service = container.safety.flag_service(uow=uow)
        await service.save_segment(
            Segment(key="paying", constraints=(PRO,)), reason="reuse", actor=None, create=True
        )
        await service.create(
            beta(enabled=True, rules=(Rule(segments=("paying",)),)), reason="r", actor=None
        )
        await uow.commit()
    await container.safety.snapshots().refresh()
    flags = container.safety.flags()

    pro = flags.evaluate("beta-dashboard", EvaluationContext(plan="pro"))
    free = flags.evaluate("beta-dashboard", EvaluationContext(plan="free"))

    assert (pro.value, pro.reason) == (True, Reason.RULE)
    assert (free.value, free.reason) == (False, Reason.DEFAULT)


async def test_archiving_turns_a_flag_off_and_lists_it_no_more_as_stale(
    container: ApplicationContainer, clock: FixedClock
) -> None:
    await create(
        container,
        msgspec.structs.replace(
            beta(enabled=True, default_variant="on"), kind=FlagKind.OPERATIONAL
        ),
    )
    clock.advance(timedelta(days=8))
    async with container.unit_of_work() as uow:
        stale = [f.key for f in await container.safety.flag_service(uow=uow).stale()]
        await container.safety.flag_service(uow=uow).archive(
            "beta-dashboard", reason="done", actor=None
        )
        await uow.commit()
    async with container.unit_of_work() as uow:
        after = await container.safety.flag_service(uow=uow).stale()
    await container.safety.snapshots().refresh()

    assert stale == ["beta-dashboard"]
    assert after == []
    assert container.safety.flags().evaluate("beta-dashboard").reason is Reason.DISABLED


async def test_a_change_through_one_process_is_seen_by_another_within_two_seconds(
    settings: Settings, container: ApplicationContainer
) -> None:
    other = build_container(settings)  # a second process on the same database
    runtime = SafetyRuntime(other)
    await runtime.start()
    try:
        await create(container, beta(enabled=False, default_variant="on"))
        async with container.unit_of_work() as uow:
            await container.safety.flag_service(uow=uow).set_environment(
                "beta-dashboard", ENV, enabled=True, reason="go", actor=None
            )
            await uow.commit()
        changed_at = time.monotonic()
        while not other.safety.flags().is_enabled("beta-dashboard"):
            assert time.monotonic() - changed_at < 2.0, "not seen within 2 s"
            await asyncio.sleep(0.02)
        seen_after = time.monotonic() - changed_at
    finally:
        await runtime.stop()
        await close_container(other)

    assert seen_after < 2.0


async def test_the_openfeature_provider_evaluates_the_stored_flags(
    container: ApplicationContainer,
) -> None:
    from openfeature import api
    from openfeature.evaluation_context import EvaluationContext as OpenFeatureContext

    await create(container, beta(enabled=True, rules=(Rule(constraints=(PRO,)),)))
    await container.safety.snapshots().refresh()
    api.set_provider(container.safety.openfeature(), domain="ninefold-sql-tests")
    try:
        client = api.get_client("ninefold-sql-tests")
        pro = OpenFeatureContext(targeting_key="usr_1", attributes={"plan": "pro"})

        assert client.get_boolean_value("beta-dashboard", False, pro) is True
        assert (
            client.get_boolean_value("beta-dashboard", True, OpenFeatureContext("usr_1")) is False
        )
    finally:
        api.clear_providers()
