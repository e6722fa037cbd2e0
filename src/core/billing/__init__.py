"""Billing: plans, subscriptions, payments, credits and usage.

So far only the notification types it will send are declared here
(``core.billing.notifications``), with their templates in ``templates/``."""
