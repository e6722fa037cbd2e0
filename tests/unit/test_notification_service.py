"""The send use case: channels from preferences and reachability, one delivery per
channel, idempotency, suppression, the inbox, and unsubscribe headers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from adapters.memory.deliveries import InMemoryDeliveryStore, InMemorySuppressionList
from adapters.memory.inbox import InMemoryInboxStore
from adapters.memory.notifications import InMemoryEmailSender
from adapters.memory.preferences import InMemoryPreferenceStore
from adapters.memory.sms import InMemorySmsSender
from core.kernel import FixedClock, IdGenerator
from core.notifications import (
    Channel,
    Delivery,
    DeliveryStatus,
    NotificationCatalog,
    NotificationRequest,
    NotificationService,
    NotificationType,
    PreferenceChoice,
    Recipient,
    Rendered,
    Suppression,
    SuppressionReason,
    UnknownNotificationTypeError,
    UnsubscribeTokens,
)

ALL = frozenset(Channel)
DIGEST = NotificationType(
    "tests.digest",
    "digest",
    channels=ALL,
    default_channels=frozenset({Channel.EMAIL, Channel.IN_APP}),
    templates="tests",
)
ALERT = NotificationType(
    "tests.alert",
    "security",
    channels=frozenset({Channel.EMAIL, Channel.SMS}),
    default_channels=frozenset({Channel.EMAIL, Channel.SMS}),
    opt_out=False,
    templates="tests",
)
ADA = Recipient(user_id="usr_ada", email="Ada@Example.com", name="Ada", phone="+33612345678")


class EchoRenderer:
    """Renders the type, channel and data, so tests see what each channel got."""

    def render(
        self,
        notification: NotificationType,
        channel: Channel,
        data: Mapping[str, Any],
        *,
        locale: str | None = None,
    ) -> Rendered:
        return Rendered(
            subject=f"{notification.name} for {data.get('recipient_name')}",
            text=f"{channel.value}: {data.get('what')} [{locale}]",
            html=f"<p>{data.get('what')}</p>" if channel is Channel.EMAIL else None,
            link="https://app.example.com/x" if channel is Channel.IN_APP else None,
        )


class RecordingQueue:
    def __init__(self) -> None:
        self.queued: list[Delivery] = []
        self.batches: list[list[Delivery]] = []

    async def enqueue(self, delivery: Delivery) -> None:
        self.queued.append(delivery)

    async def enqueue_batch(self, deliveries: Sequence[Delivery]) -> None:
        self.batches.append(list(deliveries))


class World:
    def __init__(self) -> None:
        self.clock = FixedClock()
        self.deliveries = InMemoryDeliveryStore()
        self.suppressions = InMemorySuppressionList()
        self.inbox = InMemoryInboxStore()
        self.emails = InMemoryEmailSender()
        self.sms = InMemorySmsSender()
        self.preferences = InMemoryPreferenceStore()
        self.queue = RecordingQueue()
        self.tokens = UnsubscribeTokens("test-secret")
        self.service = NotificationService(
            catalog=NotificationCatalog([DIGEST, ALERT]),
            renderer=EchoRenderer(),
            preferences=self.preferences,
            deliveries=self.deliveries,
            suppressions=self.suppressions,
            inbox=self.inbox,
            email=self.emails,
            sms=self.sms,
            queue=self.queue,
            unsubscribe=self.tokens,
            clock=self.clock,
            ids=IdGenerator(),
            public_url="https://app.example.com/",
            app_name="Ninefold",
        )

    async def notify(
        self, kind: str = "tests.digest", recipient: Recipient = ADA, key: str = "k1"
    ) -> tuple[Delivery, ...]:
        return await self.service.notify(
            NotificationRequest(
                type=kind, recipient=recipient, data={"what": "news"}, idempotency_key=key
            )
        )


@pytest.fixture
def world() -> World:
    return World()


async def test_a_notification_goes_out_on_its_default_channels_with_one_delivery_each(
    world: World,
) -> None:
    email, in_app = await world.notify()

    assert (email.channel, email.status) == (Channel.EMAIL, DeliveryStatus.QUEUED)
    assert email.address == "ada@example.com"  # addresses are kept lowercased
    assert email.idempotency_key == "k1:email"
    (message,) = world.emails.sent
    assert message.to == "ada@example.com"
    assert message.subject == "tests.digest for Ada"
    assert message.idempotency_key == "k1:email"
    assert world.queue.queued == [email]  # the delivery job, in the same transaction

    assert (in_app.channel, in_app.status) == (Channel.IN_APP, DeliveryStatus.DELIVERED)
    assert in_app.delivered_at == in_app.sent_at == world.clock.now()
    page = await world.inbox.page(
        "usr_ada", workspace_id=None, unread_only=False, before=None, limit=10
    )
    (item,) = page
    assert item.id == in_app.provider_message_id
    assert (item.title, item.body, item.link) == (
        "tests.digest for Ada",
        "in_app: news [None]",
        "https://app.example.com/x",
    )
    assert world.sms.sent == []  # SMS is not a default channel of this type


async def test_the_same_request_twice_sends_nothing_more(world: World) -> None:
    first = await world.notify()
    again = await world.notify()

    assert again == first
    assert len(world.emails.sent) == 1
    assert len(world.queue.queued) == 1
    assert len(world.inbox.notifications) == 1


async def test_preferences_turn_channels_on_and_off(world: World) -> None:
    await world.preferences.save(
        "usr_ada",
        [
            PreferenceChoice("digest", Channel.EMAIL, False),
            PreferenceChoice("digest", Channel.SMS, True),
        ],
    )

    deliveries = await world.notify()

    assert [d.channel for d in deliveries] == [Channel.SMS, Channel.IN_APP]
    (sms,) = world.sms.sent
    assert (sms.to, sms.body, sms.idempotency_key) == ("+33612345678", "sms: news [None]", "k1:sms")
    assert world.emails.sent == []


async def test_a_mandatory_type_ignores_preferences(world: World) -> None:
    await world.preferences.save("usr_ada", [PreferenceChoice("security", Channel.EMAIL, False)])

    deliveries = await world.notify("tests.alert")

    assert [d.channel for d in deliveries] == [Channel.EMAIL, Channel.SMS]


async def test_only_channels_that_reach_the_recipient_are_used(world: World) -> None:
    invited = Recipient(email="bob@example.com")  # no account, no phone

    (email,) = await world.notify("tests.alert", invited)

    assert email.channel is Channel.EMAIL
    assert email.user_id is None


async def test_a_suppressed_address_gets_a_suppressed_delivery_and_no_message(
    world: World,
) -> None:
    await world.suppressions.add(
        Suppression(
            address="ada@example.com", reason=SuppressionReason.BOUNCE, created_at=world.clock.now()
        )
    )

    email, sms = await world.notify("tests.alert")

    assert email.status is DeliveryStatus.SUPPRESSED
    assert email.suppressed_at == world.clock.now()
    assert world.emails.sent == []
    assert world.queue.queued == [sms]  # the other channels go out as usual
    assert await world.deliveries.by_key("k1:email") == email


async def test_opt_out_emails_carry_one_click_unsubscribe_headers_and_mandatory_ones_do_not(
    world: World,
) -> None:
    await world.notify("tests.digest", key="digest")
    await world.notify("tests.alert", key="alert")

    digest, alert = world.emails.sent
    assert alert.headers is None
    assert digest.headers is not None
    assert digest.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = digest.headers["List-Unsubscribe"]
    prefix = "<https://app.example.com/api/v1/notifications/unsubscribe?token="
    assert link.startswith(prefix)
    assert link.endswith(">")
    unsubscribe = world.tokens.read(link[len(prefix) : -1])
    assert (unsubscribe.user_id, unsubscribe.category, unsubscribe.channel) == (
        "usr_ada",
        "digest",
        Channel.EMAIL,
    )


async def test_the_locale_reaches_the_renderer(world: World) -> None:
    french = Recipient(user_id="usr_zoe", email="zoe@example.com", locale="fr")

    await world.notify("tests.alert", french)

    assert world.emails.sent[0].text == "email: news [fr]"


async def test_an_unknown_type_is_refused_and_changes_nothing(world: World) -> None:
    with pytest.raises(UnknownNotificationTypeError):
        await world.notify("tests.nope")

    assert world.deliveries.deliveries == {}


@pytest.mark.parametrize("key", ["", "k" * 241])
async def test_an_idempotency_key_is_required_and_bounded(world: World, key: str) -> None:
    with pytest.raises(ValueError, match="idempotency key"):
        await world.notify(key=key)


async def test_a_broadcast_queues_its_emails_in_batches_and_the_rest_as_usual(
    world: World,
) -> None:
    people = [
        Recipient(user_id=f"usr_{n}", email=f"p{n}@example.com", phone="+33612345678")
        for n in range(150)
    ]
    requests = [
        NotificationRequest(
            type="tests.alert", recipient=p, data={"what": "x"}, idempotency_key=f"b{n}"
        )
        for n, p in enumerate(people)
    ]

    answers = await world.service.notify_many(requests)

    assert len(answers) == 150
    assert [len(batch) for batch in world.queue.batches] == [100, 50]
    batched = [d for batch in world.queue.batches for d in batch]
    assert [d.address for d in batched] == [f"p{n}@example.com" for n in range(150)]
    assert all(d.channel is Channel.SMS for d in world.queue.queued)  # SMS one by one
    assert len(world.queue.queued) == 150
    assert len(world.emails.sent) == 150

    again = await world.service.notify_many(requests)

    assert again == answers
    assert len(world.queue.batches) == 2  # nothing more queued
