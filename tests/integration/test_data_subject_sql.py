"""``scrub``, the pseudonymization inside values every part relies on: in text and
binary columns, whatever the case, whole words only for names, on both backends."""

from __future__ import annotations

from sqlalchemy import insert, select

from adapters.sql.data_subject import records, scrub
from adapters.sql.notifications.tables import provider_events
from adapters.sql.workflows.tables import outbox
from entrypoints.containers import ApplicationContainer


async def test_scrub_replaces_inside_text_and_binary_values_whatever_the_case(
    container: ApplicationContainer,
) -> None:
    now = container.kernel.clock().now()
    async with container.unit_of_work() as uow:
        session = uow.session
        await session.execute(
            insert(outbox),
            [
                {
                    "id": "out_1",
                    "name": "identity.member_added",
                    "payload": '{"user_id": "usr_42", "email": "Ada@Example.com"}',
                    "occurred_at": now,
                    "created_at": now,
                },
                {
                    "id": "out_2",
                    "name": "identity.member_added",
                    "payload": '{"user_id": "usr_7"}',
                    "occurred_at": now,
                    "created_at": now,
                },
            ],
        )
        await session.execute(
            insert(provider_events).values(
                provider="resend",
                event_id="evt_1",
                event_type="email.bounced",
                message_id="m_1",
                payload=b'{"to": ["ada@example.com"], "note": "\\u00e9"}',
                received_at=now,
            )
        )
        changes = {"usr_42": "erased_x", "ada@example.com": "erased_x@erased.invalid"}
        text_rows = await scrub(session, outbox, changes)
        binary_rows = await scrub(session, provider_events, changes, ["payload"])
        payloads = dict((await session.execute(select(outbox.c.id, outbox.c.payload))).all())
        (event,) = await records(session, select(provider_events))
        await uow.commit()

    assert (text_rows, binary_rows) == (1, 1)
    assert payloads == {
        "out_1": '{"user_id": "erased_x", "email": "erased_x@erased.invalid"}',
        "out_2": '{"user_id": "usr_7"}',
    }
    assert event["payload"] == '{"to": ["erased_x@erased.invalid"], "note": "\\u00e9"}'


async def test_a_name_is_replaced_as_a_whole_word_only(container: ApplicationContainer) -> None:
    now = container.kernel.clock().now()
    async with container.unit_of_work() as uow:
        await uow.session.execute(
            insert(outbox).values(
                id="out_1",
                name="notifications.send",
                payload='{"inviter": "Anna", "workspace": "Annabel\'s shop", "note": "anna."}',
                occurred_at=now,
                created_at=now,
            )
        )
        await scrub(uow.session, outbox, {"Anna": "Erased user"}, ["payload"], whole_words=True)
        payload = (await uow.session.execute(select(outbox.c.payload))).scalar_one()

    assert payload == (
        '{"inviter": "Erased user", "workspace": "Annabel\'s shop", "note": "Erased user."}'
    )


async def test_an_id_or_an_email_is_replaced_only_where_it_stands_alone(
    container: ApplicationContainer,
) -> None:
    now = container.kernel.clock().now()
    payload = (
        "usr_42 usr_420 key-by-usr_42 ada@example.com. jimada@example.com "
        "ada@example.com.au bob+ada@example.com mailto:ada@example.com ?to=ada@example.com"
    )
    async with container.unit_of_work() as uow:
        await uow.session.execute(
            insert(outbox).values(
                id="out_1", name="n", payload=payload, occurred_at=now, created_at=now
            )
        )
        changes = {"usr_42": "erased_x", "ada@example.com": "erased_x@erased.invalid"}
        await scrub(uow.session, outbox, changes, ["payload"])
        scrubbed = (await uow.session.execute(select(outbox.c.payload))).scalar_one()

    assert scrubbed == (
        "erased_x usr_420 key-by-erased_x erased_x@erased.invalid. jimada@example.com "
        "ada@example.com.au bob+ada@example.com mailto:erased_x@erased.invalid "
        "?to=erased_x@erased.invalid"
    )
