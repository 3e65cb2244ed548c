"""Alembic's environment for the classroom database: it migrates over the connection `ClassroomDB` hands it.

`ClassroomDB` opens that connection's transaction itself (BEGIN IMMEDIATE on SQLite, an advisory lock on PostgreSQL),
so two servers starting at once migrate one after the other instead of both creating the same tables.
"""

from __future__ import annotations

from alembic import context

# Its own version table: a PostgreSQL database shared with Optuna's RDB storage (which keeps `alembic_version`) or
# another Alembic app would otherwise mix two histories in one table.
VERSION_TABLE = "classroom_alembic_version"

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
