"""SQLAlchemy 2 (async) adapters: the engine, the unit of work, repositories, migrations.

The same code runs on SQLite (the embedded default) and PostgreSQL.
"""
