"""Notifications: email for now (SMS, in-app, templates and preferences come next).

Public API for other systems: ``EmailMessage`` and the ``EmailSender`` port.
"""

from core.notifications.model import EmailMessage
from core.notifications.ports import EmailSender

__all__ = ["EmailMessage", "EmailSender"]
