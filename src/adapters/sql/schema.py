"""Every system's metadata, for migrations and for the models-vs-migrations check.

Removing a system means deleting its entry here, its package under ``adapters/sql``
and its folder under ``migrations/versions``.
"""

from sqlalchemy import MetaData

from adapters.sql.billing.tables import metadata as billing_metadata
from adapters.sql.identity.tables import metadata as identity_metadata
from adapters.sql.notifications.tables import metadata as notifications_metadata
from adapters.sql.safety.tables import metadata as safety_metadata
from adapters.sql.workflows.tables import metadata as workflows_metadata

SYSTEM_METADATA: dict[str, MetaData] = {
    "billing": billing_metadata,
    "identity": identity_metadata,
    "notifications": notifications_metadata,
    "safety": safety_metadata,
    "workflows": workflows_metadata,
}
