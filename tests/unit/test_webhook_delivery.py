"""Delivering events to webhook endpoints, with fakes: fan-out by workspace and filter,
signed bodies, retries on the job's policy (honouring Retry-After), the delivery log,
redelivery, and disabling an endpoint that keeps failing (with an email to the
workspace's admins)."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import msgspec
import pytest

from adapters.memory.jobs import InMemoryJobStore
from adapters.memory.notifier import InMemoryNotifier
from adapters.memory.uow import InMemoryOutbox, InMemoryUnitOfWork
from adapters.memory.webhooks import (
    FakeWebhookTransport,
    FixedWorkspaceAdmins,
    InMemoryWebhookDeliveryLog,
    InMemoryWebhookEndpointRepository,
)
from core.identity import (
    MemberAdded,
    MemberRemoved,
    Membership,
    UserRegistered,
    Workspace,
    WorkspaceAccess,
    WorkspaceRole,
)
from core.kernel import (
    DomainEvent,
    FixedClock,
    IdGenerator,
    PermissionDeniedError,
    TenantContext,
)
from core.workflows import (
    DELIVER_EVENT,
    EventBus,
    Job,
    JobFilter,
    JobQueue,
    JobRegistry,
    JobRunner,
    JobState,
    OutboxRelay,
    event_delivery_handler,
)
from core.workflows.webhook_delivery import DELIVER_WEBHOOK, WebhookDeliverer
from core.workflows.webhook_errors import (
    InvalidWebhookEventsError,
    InvalidWebhookUrlError,
    WebhookEndpointDisabledError,
    WebhookEndpointLimitError,
    WebhookTransportError,
)
from core.workflows.webhook_model import (
    DeliveryStatus,
    DeliveryTrigger,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookPolicy,
    WebhookResponse,
)
from core.workflows.webhook_signing import verify
from core.workflows.webhooks import WebhookService

ACME = "ws_acme"
GLOBEX = "ws_globex"
EVENT_TYPES = ("identity.member_added", "identity.member_removed")
T = TypeVar("T")


class Session:
    """A ``WebhookSession`` over the fakes: one in-memory unit of work."""

    def __init__(self, setup: Setup) -> None:
        self.uow = InMemoryUnitOfWork(setup.outbox, setup.clock, setup.ids)
        self.endpoints = setup.endpoints
        self.deliveries = setup.deliveries
        self.jobs = JobQueue(
            uow=self.uow,
            store=setup.jobs,
            store_in_transaction=False,
            clock=setup.clock,
            ids=setup.ids,
        )
        self.notifier = setup.notifier
        self.admins = setup.admins


class _Opened:
    def __init__(self, store: InMemoryJobStore) -> None:
        self._store = store

    async def __aenter__(self) -> InMemoryJobStore:
        return self._store

    async def __aexit__(self, *_: object) -> None:
        return None


class Setup:
    def __init__(self, policy: WebhookPolicy | None = None) -> None:
        self.clock = FixedClock()
        self.ids = IdGenerator()
        self.outbox = InMemoryOutbox()
        self.jobs = InMemoryJobStore()
        self.endpoints = InMemoryWebhookEndpointRepository()
        self.deliveries = InMemoryWebhookDeliveryLog()
        self.notifier = InMemoryNotifier()
        self.admins = FixedWorkspaceAdmins(
            {ACME: ["owner@acme.test", "admin@acme.test"], GLOBEX: ["boss@globex.test"]}
        )
        self.transport = FakeWebhookTransport()
        self.policy = policy or WebhookPolicy(allow_private_urls=False)
        self.deliverer = WebhookDeliverer(
            open_session=lambda: Session(self),
            transport=self.transport,
            clock=self.clock,
            ids=self.ids,
            policy=self.policy,
            event_types=EVENT_TYPES,
            console_url="https://app.example.com",
        )
        self.bus = EventBus()
        self.bus.subscribe_envelopes(EVENT_TYPES, self.deliverer.fan_out, name="webhooks")
        self.relay = OutboxRelay(
            bus=self.bus,
            open_session=lambda: Session(self).uow,
            jobs_for=lambda _session: self.jobs,
            clock=self.clock,
            ids=self.ids,
        )
        registry = JobRegistry()
        registry.register(DELIVER_EVENT, event_delivery_handler(self.bus))
        registry.register(DELIVER_WEBHOOK, self.deliverer.deliver)
        self.runner = JobRunner(
            registry=registry,
            open_store=lambda: _Opened(self.jobs),
            clock=self.clock,
            rand=random.Random(7),
        )

    def access(self, workspace_id: str = ACME, role: WorkspaceRole = WorkspaceRole.OWNER) -> Any:
        now = self.clock.now()
        return WorkspaceAccess(
            Workspace(id=workspace_id, name=workspace_id, created_at=now),
            Membership(workspace_id=workspace_id, user_id="usr_ada", role=role, created_at=now),
        )

    async def act(self, use: Callable[[WebhookService], Awaitable[T]]) -> T:
        """Run a use case in a unit of work of its own, and commit it."""
        session = Session(self)
        service = WebhookService(
            endpoints=self.endpoints,
            deliveries=self.deliveries,
            jobs=session.jobs,
            clock=self.clock,
            ids=self.ids,
            policy=self.policy,
            event_types=EVENT_TYPES,
        )
        async with session.uow:
            result = await use(service)
            await session.uow.commit()
        return result

    async def endpoint(
        self, workspace_id: str = ACME, events: tuple[str, ...] = ("*",), **extra: str
    ) -> WebhookEndpoint:
        url = extra.get("url", f"https://hooks.{workspace_id}.example.com/in")
        return await self.act(
            lambda s: s.create(self.access(workspace_id), url=url, events=list(events))
        )

    async def commit(self, *events: DomainEvent) -> None:
        session = Session(self)
        async with session.uow:
            for event in events:
                session.uow.raise_event(event)
            await session.uow.commit()

    def member_added(self, workspace_id: str = ACME, user_id: str = "usr_bob") -> MemberAdded:
        return MemberAdded(
            occurred_at=self.clock.now(),
            workspace_id=workspace_id,
            user_id=user_id,
            role=WorkspaceRole.MEMBER,
        )

    async def run(self) -> int:
        """Relay and run what is due, until nothing is."""
        total = 0
        while True:
            relayed = await self.relay.drain()
            ran = await self.runner.drain()
            total += ran
            if not relayed and not ran:
                return total

    async def webhook_jobs(self) -> list[Job]:
        return list(await self.jobs.list(JobFilter(name=DELIVER_WEBHOOK.name)))

    async def until_next_attempt(self) -> None:
        """Move the clock to the next queued delivery's time, and run it."""
        queued = [j for j in await self.webhook_jobs() if j.state is JobState.QUEUED]
        self.clock.set(max(self.clock.now(), min(job.run_at for job in queued)))
        await self.run()

    def message_id(self, name: str) -> str:
        (found,) = [m.id for m in self.outbox.messages.values() if m.name == name]
        return found

    def log(self, endpoint: WebhookEndpoint) -> list[WebhookDelivery]:
        found = [d for d in self.deliveries.deliveries.values() if d.endpoint_id == endpoint.id]
        return sorted(found, key=lambda d: d.id)

    async def stored(self, endpoint: WebhookEndpoint) -> WebhookEndpoint:
        found = await self.endpoints.get(TenantContext(endpoint.workspace_id), endpoint.id)
        assert found is not None
        return found


@pytest.fixture
def setup() -> Setup:
    return Setup()


async def test_an_event_goes_to_each_enabled_endpoint_of_its_workspace_whose_filter_accepts_it(
    setup: Setup,
) -> None:
    everything = await setup.endpoint(ACME)
    members = await setup.endpoint(ACME, ("identity.member_added",))
    removals = await setup.endpoint(ACME, ("identity.member_removed",))
    paused = await setup.endpoint(ACME)
    await setup.act(lambda s: s.update(setup.access(), paused.id, enabled=False))
    await setup.endpoint(GLOBEX)

    await setup.commit(
        setup.member_added(),
        UserRegistered(occurred_at=setup.clock.now(), user_id="usr_x", email="x@example.com"),
    )
    await setup.run()

    assert sorted(sent.url for sent in setup.transport.sent) == sorted(
        [everything.url, members.url]
    )
    assert setup.log(removals) == []
    event_id = setup.message_id("identity.member_added")
    assert {j.idempotency_key for j in await setup.webhook_jobs()} == {
        f"{event_id}:{everything.id}",
        f"{event_id}:{members.id}",
    }


async def test_a_delivery_is_signed_and_carries_the_event_in_its_envelope(setup: Setup) -> None:
    endpoint = await setup.endpoint()
    event = setup.member_added()
    await setup.commit(event)

    await setup.run()

    (sent,) = setup.transport.sent
    verify(endpoint.secret, sent.headers, sent.body, now=setup.clock.now())
    event_id = setup.message_id("identity.member_added")
    body = msgspec.json.decode(sent.body)
    assert body == {
        "id": event_id,
        "type": "identity.member_added",
        "timestamp": "2030-01-01T00:00:00Z",
        "data": msgspec.json.decode(msgspec.json.encode(event)),
    }
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["webhook-timestamp"] == str(int(setup.clock.now().timestamp()))
    assert sent.timeout_seconds == setup.policy.timeout_seconds
    (attempt,) = setup.log(endpoint)
    assert (attempt.status, attempt.attempt, attempt.status_code) == (
        DeliveryStatus.SUCCEEDED,
        1,
        200,
    )
    assert (attempt.event_id, attempt.message_id, attempt.body) == (
        event_id,
        sent.headers["webhook-id"],
        sent.body,
    )


async def test_fanning_out_one_event_twice_delivers_it_once(setup: Setup) -> None:
    endpoint = await setup.endpoint()
    await setup.commit(setup.member_added())
    await setup.relay.drain()
    (fan_out_job,) = await setup.jobs.list(JobFilter(name=DELIVER_EVENT.name))
    await setup.run()

    await setup.jobs.requeue(fan_out_job.id, setup.clock.now())  # as after a lost worker
    await setup.run()

    assert len(setup.transport.sent) == 1
    assert len(await setup.webhook_jobs()) == 1
    (attempt,) = setup.log(endpoint)
    assert attempt.event_id == setup.message_id("identity.member_added")


async def test_a_failed_delivery_is_retried_with_backoff_under_the_same_webhook_id(
    setup: Setup,
) -> None:
    endpoint = await setup.endpoint()
    setup.transport.answer(
        WebhookResponse(status_code=503, body_excerpt="down for maintenance", latency_ms=40),
        WebhookTransportError("timeout", "no answer within 10s", latency_ms=10000),
    )
    await setup.commit(setup.member_added())

    await setup.run()
    (job,) = await setup.webhook_jobs()
    assert job.state is JobState.QUEUED
    assert job.run_at > setup.clock.now()
    await setup.until_next_attempt()
    await setup.until_next_attempt()

    first, second, third = setup.log(endpoint)
    assert [(d.attempt, d.status) for d in (first, second, third)] == [
        (1, DeliveryStatus.RETRYING),
        (2, DeliveryStatus.RETRYING),
        (3, DeliveryStatus.SUCCEEDED),
    ]
    assert (first.status_code, first.response_excerpt, first.latency_ms) == (
        503,
        "down for maintenance",
        40,
    )
    assert (second.status_code, second.error, second.latency_ms) == (
        None,
        "timeout: no answer within 10s",
        10000,
    )
    assert len({sent.headers["webhook-id"] for sent in setup.transport.sent}) == 1
    assert (await setup.webhook_jobs())[0].state is JobState.SUCCEEDED
    healthy = await setup.stored(endpoint)
    assert (healthy.failing_since, healthy.consecutive_failures) == (None, 0)


async def test_retry_after_of_a_429_delays_the_next_attempt(setup: Setup) -> None:
    await setup.endpoint()
    setup.transport.answer(WebhookResponse(status_code=429, latency_ms=3, retry_after="900"))
    await setup.commit(setup.member_added())

    await setup.run()

    (job,) = await setup.webhook_jobs()
    assert job.run_at >= setup.clock.now() + timedelta(seconds=900)


async def test_a_retry_after_beyond_reason_is_cut_to_the_policys_limit(setup: Setup) -> None:
    await setup.endpoint()
    setup.transport.answer(WebhookResponse(status_code=503, latency_ms=3, retry_after="604800"))
    await setup.commit(setup.member_added())

    await setup.run()

    (job,) = await setup.webhook_jobs()
    assert job.run_at - setup.clock.now() <= setup.policy.max_retry_after


async def test_after_the_last_attempt_the_delivery_is_failed_and_the_job_dead(
    setup: Setup,
) -> None:
    endpoint = await setup.endpoint()
    setup.transport.default = 500
    await setup.commit(setup.member_added())

    await setup.run()
    while any(j.state is JobState.QUEUED for j in await setup.webhook_jobs()):
        await setup.until_next_attempt()

    log = setup.log(endpoint)
    assert len(log) == DELIVER_WEBHOOK.retry.max_attempts == 12
    assert [d.status for d in log] == [DeliveryStatus.RETRYING] * 11 + [DeliveryStatus.FAILED]
    span = log[-1].created_at - log[0].created_at
    assert timedelta(hours=12) <= span <= timedelta(hours=26)
    (job,) = await setup.webhook_jobs()
    assert job.state is JobState.DEAD
    assert (await setup.stored(endpoint)).enabled  # a day of failures is not five


async def test_410_gone_disables_the_endpoint_at_once_and_tells_the_admins(
    setup: Setup,
) -> None:
    endpoint = await setup.endpoint()
    setup.transport.answer(410)
    await setup.commit(setup.member_added())

    await setup.run()

    stored = await setup.stored(endpoint)
    assert not stored.enabled
    assert stored.disabled_reason == "the endpoint answered 410 Gone"
    (job,) = await setup.webhook_jobs()
    assert job.state is JobState.DEAD
    (attempt,) = setup.log(endpoint)
    assert attempt.status is DeliveryStatus.FAILED
    assert sorted(m.recipient.email or "" for m in setup.notifier.sent) == [
        "admin@acme.test",
        "owner@acme.test",
    ]


async def test_an_endpoint_failing_for_five_days_is_disabled_once_with_one_email_per_admin(
    setup: Setup,
) -> None:
    endpoint = await setup.endpoint()
    setup.transport.default = 500
    await setup.commit(setup.member_added())
    await setup.run()  # the first failure: failing since now
    first_failure = setup.clock.now()

    setup.clock.advance(timedelta(days=5))
    await setup.commit(setup.member_added(user_id="usr_carol"))
    await setup.run()  # the first event's retry and the new event both fail

    stored = await setup.stored(endpoint)
    assert not stored.enabled
    assert stored.disabled_reason == "no delivery has succeeded for 5 days"
    assert stored.failing_since == first_failure
    assert sorted(m.recipient.email or "" for m in setup.notifier.sent) == [
        "admin@acme.test",
        "owner@acme.test",
    ]
    request = setup.notifier.sent[0]
    assert request.type == "workflows.webhook_endpoint_disabled"
    assert request.data["endpoint_url"] == endpoint.url
    assert request.data["endpoint_api_url"].endswith(
        f"/api/v1/workspaces/{ACME}/webhooks/{endpoint.id}"
    )
    assert request.data["reason"] == "no delivery has succeeded for 5 days"
    # Nothing more is sent: new events skip it, and retries under way end unsent.
    sent_before = len(setup.transport.sent)
    await setup.commit(setup.member_added(user_id="usr_dan"))
    await setup.run()
    while any(j.state is JobState.QUEUED for j in await setup.webhook_jobs()):
        await setup.until_next_attempt()
    assert len(setup.transport.sent) == sent_before
    assert {j.state for j in await setup.webhook_jobs()} == {JobState.DEAD}
    assert len(setup.notifier.sent) == 2


async def test_a_success_in_between_keeps_an_endpoint_enabled(setup: Setup) -> None:
    endpoint = await setup.endpoint()
    setup.transport.answer(500)
    await setup.commit(setup.member_added())
    await setup.run()
    setup.clock.advance(timedelta(days=1))
    await setup.until_next_attempt()  # the retry succeeds

    setup.clock.advance(timedelta(days=5))
    setup.transport.answer(500)
    await setup.commit(setup.member_added(user_id="usr_carol"))
    await setup.run()

    stored = await setup.stored(endpoint)
    assert stored.enabled
    assert stored.consecutive_failures == 1
    assert setup.notifier.sent == []


async def test_a_rotated_out_secret_signs_beside_the_new_one_for_a_day(setup: Setup) -> None:
    endpoint = await setup.endpoint()
    rotated = await setup.act(lambda s: s.rotate_secret(setup.access(), endpoint.id))
    await setup.commit(setup.member_added())
    await setup.run()
    setup.clock.advance(timedelta(hours=24, seconds=1))
    await setup.commit(setup.member_added(user_id="usr_carol"))
    await setup.run()

    during, after = setup.transport.sent
    assert rotated.secret != endpoint.secret
    assert len(during.headers["webhook-signature"].split()) == 2
    verify(endpoint.secret, during.headers, during.body, now=rotated.created_at)
    verify(rotated.secret, during.headers, during.body, now=rotated.created_at)
    assert len(after.headers["webhook-signature"].split()) == 1
    verify(rotated.secret, after.headers, after.body, now=setup.clock.now())


async def test_a_redelivery_sends_the_same_body_and_webhook_id_once(setup: Setup) -> None:
    endpoint = await setup.endpoint()
    setup.transport.answer(500)
    await setup.commit(setup.member_added())
    await setup.run()
    (failed,) = setup.log(endpoint)
    setup.transport.answer(502)

    scheduled = await setup.act(lambda s: s.redeliver(setup.access(), endpoint.id, failed.id))
    await setup.run()

    first, again = setup.transport.sent
    assert again.body == first.body
    assert again.headers["webhook-id"] == first.headers["webhook-id"] == scheduled.message_id
    redelivery = setup.log(endpoint)[-1]
    assert (redelivery.trigger, redelivery.attempt, redelivery.status) == (
        DeliveryTrigger.REDELIVERY,
        1,
        DeliveryStatus.FAILED,  # tried once: the person who asked sees the outcome
    )
    assert (await setup.stored(endpoint)).consecutive_failures == 1  # not counted


async def test_a_test_event_reaches_the_endpoint_whatever_its_filter(setup: Setup) -> None:
    endpoint = await setup.endpoint(ACME, ("identity.member_removed",))

    scheduled = await setup.act(lambda s: s.send_test(setup.access(), endpoint.id))
    await setup.run()

    (sent,) = setup.transport.sent
    body = msgspec.json.decode(sent.body)
    assert (body["type"], body["id"]) == ("webhook.test", scheduled.event_id)
    assert body["data"]["endpoint_id"] == endpoint.id
    verify(endpoint.secret, sent.headers, sent.body, now=setup.clock.now())
    assert setup.log(endpoint)[0].trigger is DeliveryTrigger.TEST


async def test_a_disabled_endpoint_gets_no_test_and_no_redelivery(setup: Setup) -> None:
    endpoint = await setup.endpoint()
    await setup.act(lambda s: s.update(setup.access(), endpoint.id, enabled=False))

    with pytest.raises(WebhookEndpointDisabledError):
        await setup.act(lambda s: s.send_test(setup.access(), endpoint.id))


async def test_deliveries_to_a_deleted_endpoint_are_dropped(setup: Setup) -> None:
    endpoint = await setup.endpoint()
    setup.transport.answer(500)
    await setup.commit(setup.member_added())
    await setup.run()

    await setup.act(lambda s: s.delete(setup.access(), endpoint.id))
    await setup.until_next_attempt()

    assert len(setup.transport.sent) == 1
    assert setup.deliveries.deliveries == {}
    assert (await setup.webhook_jobs())[0].state is JobState.SUCCEEDED


async def test_enabling_again_starts_the_failure_count_afresh(setup: Setup) -> None:
    endpoint = await setup.endpoint()
    setup.transport.answer(410)
    await setup.commit(setup.member_added())
    await setup.run()

    enabled = await setup.act(lambda s: s.update(setup.access(), endpoint.id, enabled=True))

    assert enabled.enabled
    assert (enabled.disabled_reason, enabled.failing_since) == (None, None)


async def test_a_purged_workspace_loses_its_endpoints_and_log(setup: Setup) -> None:
    endpoint = await setup.endpoint()
    kept = await setup.endpoint(GLOBEX)
    await setup.commit(setup.member_added())
    await setup.run()

    await setup.deliverer.purge_workspace(ACME)

    assert list(setup.endpoints.endpoints) == [kept.id]
    assert setup.log(endpoint) == []


async def test_old_attempts_are_pruned(setup: Setup) -> None:
    endpoint = await setup.endpoint()
    await setup.commit(setup.member_added())
    await setup.run()
    setup.clock.advance(timedelta(days=31))

    assert await setup.deliverer.prune(timedelta(days=30)) == 1
    assert setup.log(endpoint) == []


# -- managing endpoints --------------------------------------------------------------


async def test_a_filter_names_known_event_types_or_star_alone(setup: Setup) -> None:
    access = setup.access()
    url = "https://hooks.example.com/in"

    with pytest.raises(InvalidWebhookEventsError) as unknown:
        await setup.act(lambda s: s.create(access, url=url, events=["identity.user_registered"]))
    with pytest.raises(InvalidWebhookEventsError):
        await setup.act(lambda s: s.create(access, url=url, events=["*", EVENT_TYPES[0]]))
    with pytest.raises(InvalidWebhookEventsError):
        await setup.act(lambda s: s.create(access, url=url, events=[]))

    assert unknown.value.extra["unknown"] == ["identity.user_registered"]
    created = await setup.act(
        lambda s: s.create(access, url=url, events=[EVENT_TYPES[1], EVENT_TYPES[0], EVENT_TYPES[1]])
    )
    assert created.events == tuple(sorted(EVENT_TYPES))


async def test_a_workspace_has_at_most_the_policys_number_of_endpoints() -> None:
    setup = Setup(WebhookPolicy(max_endpoints=2))
    await setup.endpoint()
    await setup.endpoint()

    with pytest.raises(WebhookEndpointLimitError):
        await setup.endpoint()
    await setup.endpoint(GLOBEX)  # another workspace has its own allowance


async def test_only_public_https_urls_are_accepted_unless_the_policy_allows_private(
    setup: Setup,
) -> None:
    with pytest.raises(InvalidWebhookUrlError):
        await setup.endpoint(url="http://127.0.0.1:8080/in")
    endpoint = await setup.endpoint()
    with pytest.raises(InvalidWebhookUrlError):
        await setup.act(
            lambda s: s.update(setup.access(), endpoint.id, url="https://169.254.169.254/")
        )

    local = Setup(WebhookPolicy(allow_private_urls=True))
    assert (await local.endpoint(url="http://127.0.0.1:8080/in")).url == "http://127.0.0.1:8080/in"


@pytest.mark.parametrize(
    "role", [WorkspaceRole.MEMBER, WorkspaceRole.BILLING, WorkspaceRole.VIEWER]
)
async def test_only_owners_and_admins_manage_webhooks(setup: Setup, role: WorkspaceRole) -> None:
    endpoint = await setup.endpoint()
    access = setup.access(role=role)

    with pytest.raises(PermissionDeniedError):
        await setup.act(lambda s: s.list_endpoints(access))
    with pytest.raises(PermissionDeniedError):
        await setup.act(lambda s: s.get(access, endpoint.id))
    admin = setup.access(role=WorkspaceRole.ADMIN)
    assert [e.id for e in await setup.act(lambda s: s.list_endpoints(admin))] == [endpoint.id]


async def test_the_delivery_log_pages_newest_first(setup: Setup) -> None:
    endpoint = await setup.endpoint()
    for user in ("usr_1", "usr_2", "usr_3"):
        await setup.commit(setup.member_added(user_id=user))
        setup.clock.advance(timedelta(seconds=1))
    await setup.run()

    first = await setup.act(lambda s: s.deliveries(setup.access(), endpoint.id, limit=2))
    rest = await setup.act(
        lambda s: s.deliveries(setup.access(), endpoint.id, first.next_cursor, limit=2)
    )

    everything = [d.id for d in reversed(setup.log(endpoint))]
    assert [d.id for d in first.deliveries] == everything[:2]
    assert [d.id for d in rest.deliveries] == everything[2:]
    assert rest.next_cursor is None


async def test_member_removed_events_are_delivered_too(setup: Setup) -> None:
    endpoint = await setup.endpoint(ACME, ("identity.member_removed",))

    await setup.commit(
        MemberRemoved(occurred_at=setup.clock.now(), workspace_id=ACME, user_id="usr_b")
    )
    await setup.run()

    (attempt,) = setup.log(endpoint)
    assert attempt.event_type == "identity.member_removed"


async def test_an_event_from_before_an_endpoint_existed_is_not_sent_to_it(
    setup: Setup,
) -> None:
    earlier = setup.member_added()
    setup.clock.advance(timedelta(seconds=1))
    endpoint = await setup.endpoint()

    await setup.commit(earlier)  # committed (and relayed) after the endpoint's creation
    await setup.run()

    assert setup.transport.sent == []
    assert setup.log(endpoint) == []
