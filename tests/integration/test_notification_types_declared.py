"""Every email the app sends names a notification type its catalog declares."""

from __future__ import annotations

from adapters.sql.notifications.outbox import list_emails
from core.notifications import Channel
from entrypoints.containers import ApplicationContainer


async def test_identity_s_emails_are_declared_types(container: ApplicationContainer) -> None:
    catalog = container.notifications.catalog()
    async with container.unit_of_work() as uow:
        accounts = container.identity.accounts(uow=uow)
        await accounts.sign_up("ada@example.com", "correct horse battery staple", "Ada")
        await uow.commit()
    async with container.unit_of_work() as uow:
        accounts = container.identity.accounts(uow=uow)
        await accounts.sign_up("ada@example.com", "correct horse battery staple", "Ada")
        await accounts.request_password_reset("ada@example.com")
        await uow.commit()
    async with container.unit_of_work() as uow:
        sent = await list_emails(uow.session, limit=100)

    categories = {email.message.category for email in sent}
    assert categories >= {
        "identity.verify_email",
        "identity.already_registered",
        "identity.reset_password",
    }
    for category in categories:
        declared = catalog.get(category)  # raises for an undeclared type
        assert Channel.EMAIL in declared.channels


def test_the_catalog_offers_no_choice_for_security_messages(
    container: ApplicationContainer,
) -> None:
    catalog = container.notifications.catalog()
    assert "security" not in catalog.categories()
    assert not catalog.may_set("security", Channel.EMAIL)
