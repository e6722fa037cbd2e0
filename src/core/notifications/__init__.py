"""Notifications: email and SMS for now (in-app, templates and preferences come next).

Public API for other systems: ``EmailMessage`` and the ``EmailSender`` port;
``SmsMessage``, the ``SmsSender`` port, its rules (``check_sms``, ``sms_segments``,
``validate_e164``) and the ``PhoneNumberParser`` port.
"""

from core.notifications.catalog import (
    Channel,
    NotificationCatalog,
    NotificationType,
    Preferences,
    channels_for,
)
from core.notifications.errors import (
    EmailProviderUnavailableError,
    EmailRejectedError,
    InvalidPhoneNumberError,
    InvalidPreferenceError,
    InvalidSmsBodyError,
    SmsTooLongError,
    UnknownNotificationTypeError,
)
from core.notifications.model import EmailMessage
from core.notifications.ports import EmailSender, PhoneNumberParser, SmsSender
from core.notifications.preferences import (
    CategoryPreferences,
    PreferenceChoice,
    PreferenceService,
    PreferenceStore,
)
from core.notifications.sms import (
    DEFAULT_MAX_SEGMENTS,
    SmsMessage,
    SmsSegments,
    check_sms,
    sms_segments,
    validate_e164,
)

__all__ = [
    "DEFAULT_MAX_SEGMENTS",
    "CategoryPreferences",
    "Channel",
    "EmailMessage",
    "EmailProviderUnavailableError",
    "EmailRejectedError",
    "EmailSender",
    "InvalidPhoneNumberError",
    "InvalidPreferenceError",
    "InvalidSmsBodyError",
    "NotificationCatalog",
    "NotificationType",
    "PhoneNumberParser",
    "PreferenceChoice",
    "PreferenceService",
    "PreferenceStore",
    "Preferences",
    "SmsMessage",
    "SmsSegments",
    "SmsSender",
    "SmsTooLongError",
    "UnknownNotificationTypeError",
    "channels_for",
    "check_sms",
    "sms_segments",
    "validate_e164",
]
