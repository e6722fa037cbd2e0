"""``ninefold mail`` (list, show): the mail outbox from the command line.

Runs on SQLite and, with ``NINEFOLD_TEST_POSTGRES_URL`` set, on PostgreSQL, like the
other CLI tests (whose fixtures these mirror). Mail is made by the real use case
(``NotificationService.notify``) through a container of the test's own on the CLI's
database.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from tests.cli.harness import Ninefold

from core.notifications import EmailMessage, NotificationRequest, Recipient
from entrypoints.cli.mail import PAGE_MAX
from entrypoints.containers import ApplicationContainer, build_container, close_container
from entrypoints.http.notifications import admin
from entrypoints.settings import ensure_secret_key, load_settings

T = TypeVar("T")
VERIFY = "identity.verify_email"


# --- arranging mail ------------------------------------------------------------------------


def with_container(work: Callable[[ApplicationContainer], Awaitable[T]]) -> T:
    """Run ``work`` with a container of its own on the CLI's database."""

    async def run() -> T:
        container = build_container(ensure_secret_key(load_settings()))
        try:
            return await work(container)
        finally:
            await close_container(container)

    return asyncio.run(run())


def notify(*sends: tuple[str, str]) -> list[str]:
    """Send ``identity.verify_email`` to each (address, key), in order; the emails' ids."""

    async def work(container: ApplicationContainer) -> list[str]:
        ids = []
        for address, key in sends:
            async with container.unit_of_work() as uow:
                await container.notifications.notifier(uow=uow).notify(
                    NotificationRequest(
                        type=VERIFY,
                        recipient=Recipient(user_id="usr_ada", email=address, name="Ada"),
                        data={"name": "Ada", "link": "https://x/verify", "hours": 24},
                        idempotency_key=key,
                    )
                )
                await uow.commit()
            async with container.unit_of_work() as uow:
                page = await admin.outbox_page(uow.session, to=address, cursor=None, limit=1)
            ids.append(page.emails[0].id)
        return ids

    return with_container(work)


def ids_in(out: str) -> list[str]:
    return [line.split()[0] for line in out.splitlines()[1:] if line.strip()]


# --- mail list -----------------------------------------------------------------------------


def test_list_prints_emails_newest_first_and_filters_by_address(ninefold: Ninefold) -> None:
    first, second, third = notify(
        ("grace@example.com", "k1"), ("linus@example.com", "k2"), ("grace@example.com", "k3")
    )

    everything = ninefold("mail", "list")
    graces = ninefold("mail", "list", "--to", "Grace@example.com")
    nobody = ninefold("mail", "list", "--to", "nobody@example.com")

    assert everything.code == 0, everything.err
    assert everything.out.splitlines()[0].split() == ["ID", "CREATED", "STATUS", "TO", "SUBJECT"]
    assert ids_in(everything.out) == [third, second, first]
    row = everything.out.splitlines()[1]
    assert " queued " in row
    assert " grace@example.com " in row
    assert ids_in(graces.out) == [third, first]
    assert nobody.code == 0
    assert nobody.out.strip() == "no email in the outbox to nobody@example.com"


def test_list_says_which_cursor_gives_the_next_page(ninefold: Ninefold) -> None:
    first, second, third = notify(
        ("grace@example.com", "k1"), ("grace@example.com", "k2"), ("grace@example.com", "k3")
    )

    page = ninefold("mail", "list", "--limit", "2")
    rest = ninefold("mail", "list", "--limit", "2", "--cursor", second)

    assert ids_in(page.out) == [third, second]
    assert f"--cursor {second}" in page.err
    assert ids_in(rest.out) == [first]
    assert "--cursor" not in rest.err


def test_list_in_json_answers_what_the_api_answers(ninefold: Ninefold) -> None:
    [email_id] = notify(("grace@example.com", "k1"))

    result = ninefold("mail", "list", "--json")

    assert result.code == 0, result.err
    page = json.loads(result.out)
    assert page["next_cursor"] is None
    [email] = page["emails"]
    assert email["id"] == email_id
    assert email["category"] == VERIFY
    assert email["status"] == "queued"


def test_an_empty_outbox_says_so(ninefold: Ninefold) -> None:
    result = ninefold("mail", "list")

    assert result.code == 0, result.err
    assert result.out.strip() == "no email in the outbox"


@pytest.mark.parametrize(
    "argv",
    [["--limit", "0"], ["--limit", str(PAGE_MAX + 1)], ["--limit", "many"]],
    ids=" ".join,
)
def test_a_bad_limit_is_a_usage_error(ninefold: Ninefold, argv: list[str]) -> None:
    result = ninefold("mail", "list", *argv)

    assert result.code == 2
    assert "--limit" in result.err


def test_the_clis_page_limit_is_the_apis() -> None:
    assert PAGE_MAX == admin.PAGE_MAX


# --- mail show -----------------------------------------------------------------------------


def test_show_prints_the_email_and_its_delivery_state(ninefold: Ninefold) -> None:
    [email_id] = notify(("grace@example.com", "k1"))

    result = ninefold("mail", "show", email_id)

    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].split() == ["id", email_id]
    assert "to               grace@example.com" in lines
    assert "category         identity.verify_email" in lines
    assert "idempotency key  k1:email" in lines
    delivery = lines[lines.index("delivery") + 1 :]
    assert delivery[0].split()[0] == "id"
    assert delivery[0].split()[1].startswith("dlv_")
    assert delivery[1].split() == ["status", "queued"]
    assert any(line.split()[0] == "queued" for line in delivery[2:5])
    assert "text" in lines
    assert "https://x/verify" in result.out


def test_show_prints_headers_and_html_of_mail_stored_without_a_delivery(
    ninefold: Ninefold,
) -> None:
    async def send(container: ApplicationContainer) -> str:
        async with container.unit_of_work() as uow:
            await container.notifications.email_sender(uow.session).send(
                EmailMessage(
                    to="grace@example.com",
                    subject="By hand",
                    text="plain\nsecond line",
                    html="<p>plain</p>",
                    category="tests.by_hand",
                    idempotency_key="by-hand-1",
                    headers={"List-Unsubscribe": "<https://x/u>"},
                )
            )
            await uow.commit()
        async with container.unit_of_work() as uow:
            page = await admin.outbox_page(uow.session, to=None, cursor=None, limit=1)
        return page.emails[0].id

    email_id = with_container(send)

    result = ninefold("mail", "show", email_id)
    as_json = ninefold("mail", "show", email_id, "--json")

    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert "subject          By hand" in lines
    assert lines[lines.index("headers") + 1] == "  List-Unsubscribe: <https://x/u>"
    assert "delivery  (none: stored without a delivery record)" in lines
    assert lines[lines.index("text") + 1 : lines.index("text") + 3] == [
        "  plain",
        "  second line",
    ]
    assert lines[lines.index("html") + 1] == "  <p>plain</p>"
    shown = json.loads(as_json.out)
    assert shown["headers"] == {"List-Unsubscribe": "<https://x/u>"}
    assert shown["delivery"] is None


def test_an_unknown_id_exits_1_saying_so(ninefold: Ninefold) -> None:
    result = ninefold("mail", "show", "eml_nothing")

    assert result.code == 1
    assert result.out == ""
    assert result.err.strip() == "ninefold mail show: no email has the id 'eml_nothing'"
