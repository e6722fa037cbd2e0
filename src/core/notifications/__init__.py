"""Notifications: email, SMS and in-app messages, with templates, preferences and
delivery state.

Other systems declare their ``NotificationType``s and call a ``Notifier`` (the
``NotificationService``) with a ``NotificationRequest``; they use nothing else from
here except ``EmailMessage``/``EmailSender`` for tests and adapters.
"""

from core.notifications.catalog import (
    Channel,
    NotificationCatalog,
    NotificationType,
    Preferences,
    channels_for,
)
from core.notifications.deliveries import (
    Delivery,
    DeliveryFilter,
    DeliveryStatus,
    DeliveryStore,
    OutboxReader,
    ProviderEvent,
    ProviderEventLog,
    StoredProviderEvent,
    Suppression,
    SuppressionList,
    SuppressionReason,
    may_move,
    normalize_address,
)
from core.notifications.errors import (
    EmailNotFoundError,
    EmailProviderUnavailableError,
    EmailRejectedError,
    InAppNotificationNotFoundError,
    InvalidDeliveryTransitionError,
    InvalidPhoneNumberError,
    InvalidPreferenceError,
    InvalidSmsBodyError,
    InvalidUnsubscribeTokenError,
    InvalidWebhookSignatureError,
    SmsTooLongError,
    TemplateError,
    UnknownNotificationTypeError,
)
from core.notifications.inbox import (
    InAppNotification,
    InboxPage,
    InboxService,
    InboxStore,
)
from core.notifications.model import EmailMessage, NotificationRequest, Recipient, Rendered
from core.notifications.ports import EmailSender, PhoneNumberParser, SmsSender
from core.notifications.preferences import (
    CategoryPreferences,
    PreferenceChoice,
    PreferenceService,
    PreferenceStore,
)
from core.notifications.rendering import TEMPLATE_FILES, TemplateRenderer, locale_chain
from core.notifications.sending import (
    OUTBOX_PROVIDER,
    Applied,
    DeliverySession,
    DeliveryWorker,
    EmailTransport,
    SmsTransport,
)
from core.notifications.service import (
    DeliveryQueue,
    NotificationService,
    Notifier,
    reachable_channels,
)
from core.notifications.sms import (
    DEFAULT_MAX_SEGMENTS,
    SmsMessage,
    SmsSegments,
    check_sms,
    sms_segments,
    validate_e164,
)
from core.notifications.unsubscribe import Unsubscribe, UnsubscribeTokens

__all__ = [
    "DEFAULT_MAX_SEGMENTS",
    "OUTBOX_PROVIDER",
    "TEMPLATE_FILES",
    "Applied",
    "CategoryPreferences",
    "Channel",
    "Delivery",
    "DeliveryFilter",
    "DeliveryQueue",
    "DeliverySession",
    "DeliveryStatus",
    "DeliveryStore",
    "DeliveryWorker",
    "EmailMessage",
    "EmailNotFoundError",
    "EmailProviderUnavailableError",
    "EmailRejectedError",
    "EmailSender",
    "EmailTransport",
    "InAppNotification",
    "InAppNotificationNotFoundError",
    "InboxPage",
    "InboxService",
    "InboxStore",
    "InvalidDeliveryTransitionError",
    "InvalidPhoneNumberError",
    "InvalidPreferenceError",
    "InvalidSmsBodyError",
    "InvalidUnsubscribeTokenError",
    "InvalidWebhookSignatureError",
    "NotificationCatalog",
    "NotificationRequest",
    "NotificationService",
    "NotificationType",
    "Notifier",
    "OutboxReader",
    "PhoneNumberParser",
    "PreferenceChoice",
    "PreferenceService",
    "PreferenceStore",
    "Preferences",
    "ProviderEvent",
    "ProviderEventLog",
    "Recipient",
    "Rendered",
    "SmsMessage",
    "SmsSegments",
    "SmsSender",
    "SmsTooLongError",
    "SmsTransport",
    "StoredProviderEvent",
    "Suppression",
    "SuppressionList",
    "SuppressionReason",
    "TemplateError",
    "TemplateRenderer",
    "UnknownNotificationTypeError",
    "Unsubscribe",
    "UnsubscribeTokens",
    "channels_for",
    "check_sms",
    "locale_chain",
    "may_move",
    "normalize_address",
    "reachable_channels",
    "sms_segments",
    "validate_e164",
]
