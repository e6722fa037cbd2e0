"""Alembic environment: runs on the connection handed in by ``runner``."""

from alembic import context

from adapters.sql.schema import SYSTEM_METADATA

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through 'ninefold db', which supplies the connection")

context.configure(
    connection=connection,
    target_metadata=list(SYSTEM_METADATA.values()),
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
