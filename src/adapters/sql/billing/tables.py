"""The billing system's metadata (prefix ``billing_``). Each part of billing defines
its tables in a module of its own on this ``metadata`` (``ledger_tables.py``,
``usage_tables.py``) on this ``metadata``, and this module imports each module at its
end, so that ``SYSTEM_METADATA`` sees every table."""

from adapters.sql.naming import system_metadata

metadata = system_metadata()

from adapters.sql.billing import (  # noqa: E402,F401
    ledger_tables,
    sandbox_tables,
    store_tables,
    usage_tables,
)
