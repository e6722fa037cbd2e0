"""One naming convention for constraints, so migrations name them the same everywhere."""

from sqlalchemy import MetaData

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def system_metadata() -> MetaData:
    """A fresh MetaData for one system's tables."""
    return MetaData(naming_convention=NAMING_CONVENTION)
